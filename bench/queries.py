"""Time the reads and writes on a reply's critical path, one call at a time.

    python bench/queries.py                                   # embedded SQLite
    python bench/queries.py --database-url postgres://postgres@127.0.0.1:5432/test

Migrates the database, seeds a customer with orders and a conversation inside one
transaction, times each step ``--calls`` times, prints median and p95 per call, and
rolls the transaction back: the database is left as it was. Each step's figure is wall
time in this process (Python building the query, the round trip, the database), with
nothing else running; ``bench/load.py`` measures the same steps under load.

The reply job is timed twice: as ``reply_job_get`` reads it now (two written-out
statements) and as it read it before, through the ORM, so the difference stays
measurable on any machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(database_url: str | None) -> None:
    os.environ.setdefault("SUPPORT_BOT_VAR_DIR", tempfile.mkdtemp(prefix="bench-queries-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "support_bot.settings"
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL"):
        os.environ.pop(name, None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
        os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
        os.environ.setdefault("SHOP_TOKEN_SECRET", "bench-only-shop-token-secret")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reply_job_through_the_orm(reply_id: int) -> list[Any]:
    """``reply_job_get``'s two reads as the ORM wrote them (up to 879c81b)."""
    from support_bot.models import Message

    reply = (
        Message.objects.filter(pk=reply_id)
        .values(
            "created_at",
            "attempts",
            "conversation_id",
            "conversation__public_id",
            "conversation__state",
            "conversation__language",
            "conversation__memory_summary",
            "conversation__memory_upto",
            "conversation__customer_id",
            "conversation__customer__name",
        )
        .get()
    )
    return list(
        Message.objects.filter(
            conversation_id=reply["conversation_id"], created_at__lte=reply["created_at"]
        )
        .exclude(pk=reply_id)
        .filter(status=Message.Status.DONE)
        .exclude(role=Message.Role.SYSTEM)
        .order_by("-created_at", "-id")
        .values_list("id", "role", "text")[:40]
    )


def seed() -> tuple[int, int, int]:
    """A customer with 12 orders, a conversation of 16 turns: (customer, conversation, reply)."""
    from django.utils import timezone

    from orders.models import Customer, Order, OrderLine, Payment, Shipment
    from support_bot.models import Conversation, Message

    customer = Customer.objects.create(
        external_id=f"bench-{uuid.uuid4().hex[:8]}",
        name="Ada Bench",
        email="ada@example.org",
        created_at=timezone.now(),
    )
    now = timezone.now()
    for n in range(12):
        order = Order.objects.create(
            customer=customer,
            number=f"B{uuid.uuid4().hex[:10]}",
            status=Order.Status.SHIPPED,
            placed_at=now - timedelta(days=3 * n),
            currency="EUR",
            subtotal=Decimal("49.90"),
            shipping_total=Decimal("10.00"),
            total=Decimal("59.90"),
        )
        line = OrderLine.objects.create(
            order=order,
            line_id=f"L{n}",
            product_name="Rain jacket",
            options={"size": "M"},
            quantity=1,
            unit_price=Decimal("49.90"),
        )
        shipment = Shipment.objects.create(
            external_id=f"SH-{order.number}",
            order=order,
            carrier="DHL",
            tracking_numbers=[f"1Z{n:08d}"],
            status=Shipment.Status.IN_TRANSIT,
            shipped_at=now - timedelta(days=3 * n - 1),
        )
        shipment.lines.add(line)
        Payment.objects.create(
            external_id=f"PAY-{order.number}",
            order=order,
            kind=Payment.Kind.PAYMENT,
            method=Payment.Method.CARD,
            amount=Decimal("59.90"),
            currency="EUR",
            status=Payment.Status.SUCCEEDED,
            created_at=now,
        )
    conversation = Conversation.objects.create(customer=customer)
    for n in range(8):
        asked = Message.objects.create(
            conversation=conversation, role="shopper", text=f"Question {n} about my order?"
        )
        Message.objects.create(
            conversation=conversation, role="bot", reply_to=asked, text=f"Answer {n}: it shipped."
        )
    asked = Message.objects.create(conversation=conversation, role="shopper", text="And now?")
    reply = Message.objects.create(
        conversation=conversation, role="bot", status="queued", reply_to=asked
    )
    return customer.pk, conversation.pk, reply.pk


def timed(calls: int, step: Callable[[], object]) -> tuple[float, float]:
    for _ in range(min(20, calls)):
        step()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        step()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: the embedded SQLite")
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    setup(args.database_url)

    from django.db import connection, transaction

    from orders.context import order_context_build
    from orders.selectors import order_list_for_answers
    from orders.tokens import _count, count_tokens
    from routing.policies import policy_versions
    from support_bot.models import Message
    from support_bot.prompt import prompt_build
    from support_bot.selectors import reply_job_get
    from support_bot.services.handoff import shopper_message_receive
    from support_bot.services.messages import reply_claim, reply_finish, reply_heartbeat

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            customer_id, conversation_id, reply_id = seed()
            job = reply_job_get(reply_id=reply_id)
            prompt = prompt_build(job=job, shop_name="Bench", orders_text=None)
            prompt_text = "\n".join(message["content"] for message in prompt)

            def claim_and_finish() -> None:
                Message.objects.filter(pk=reply_id).update(status=Message.Status.QUEUED)
                assert reply_claim(reply_id=reply_id)
                assert reply_finish(
                    reply_id=reply_id, text="It shipped.", conversation_id=conversation_id
                )

            def first_token_mark() -> None:
                assert reply_heartbeat(reply_id=reply_id, first_token=True)

            def count_whole() -> None:
                _count.cache_clear()
                count_tokens(prompt_text)

            steps: list[tuple[str, Callable[[], object]]] = [
                (
                    "reply job, written out (reply_job_get)",
                    lambda: reply_job_get(reply_id=reply_id),
                ),
                ("reply job through the ORM (before)", lambda: reply_job_through_the_orm(reply_id)),
                (
                    "order context, 12 orders (order_context_build)",
                    lambda: order_context_build(customer_id=customer_id, message="my order?"),
                ),
                (
                    "orders for a tier-0 answer (order_list_for_answers)",
                    lambda: order_list_for_answers(customer_id=customer_id),
                ),
                ("policy versions (policy_versions)", policy_versions),
                ("a live reply's first token marked (reply_heartbeat)", first_token_mark),
                ("claim and finish a reply (reply_claim, reply_finish)", claim_and_finish),
                (
                    "store a shopper message (shopper_message_receive)",
                    lambda: shopper_message_receive(
                        conversation_id=conversation_id, text="Hello?", client_id=uuid.uuid4()
                    ),
                ),
                (
                    "count a prompt's tokens, lines counted before",
                    lambda: count_tokens(prompt_text),
                ),
                ("count a prompt's tokens, nothing counted before", count_whole),
            ]
            Message.objects.filter(pk=reply_id).update(status=Message.Status.GENERATING)
            print(f"{connection.vendor}, {args.calls} calls each, ms per call\n")
            print("| step | median | p95 |\n|---|---|---|")
            for name, step in steps:
                median, p95 = timed(args.calls, step)
                print(f"| {name} | {median:.2f} | {p95:.2f} |")
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
