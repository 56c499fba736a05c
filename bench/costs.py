"""Time finance's cost report on PostgreSQL with a million ledger rows.

    python bench/costs.py [--rows 1000000] [--days 90] [--repeat 5] [--keep | --reuse]
                          [--server postgres://postgres@127.0.0.1:5432/postgres]

It works in a database of its own, ``support_bot_bench_costs``, on the server that
``--server`` (or ``$BENCH_POSTGRES_URL``) reaches: it creates it, marks it with a comment,
migrates it, loads the ledger with COPY, times the report page and the CSV through Django's
test client as a superuser, and drops it again (``--keep`` leaves it for a look with psql
or for timing again with ``--reuse``).
It never touches another database: if one of that name exists without its mark, it stops.

The data: conversations spread evenly over ``--days`` days up to now, 1 to 5 turns each (a
shopper message and a bot reply), 12 % escalated, most resolved, a third of those rated;
each bot reply costs ledger rows in the report's mix (35 % tier 0, 15 % cache hits,
35/10/5 % tiers 1/2/3, about 3 % failed first attempts), priced from the default registry,
until there are ``--rows`` ledger rows. Loading a million takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "support_bot_bench_costs"
MARK = "scratch database of bench/costs.py; dropped when it ends"
MILLION = Decimal(1_000_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="ledger rows to load")
    parser.add_argument("--days", type=int, default=90, help="days the rows spread over")
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per URL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the database afterwards")
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="any database on the PostgreSQL server, used to create and drop the bench's own",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="time again the database a --keep run left"
    )
    args = parser.parse_args()
    bench_url = (
        _with_database(args.server, DATABASE) if args.reuse else database_create(args.server)
    )
    try:
        django_setup(bench_url)
        if not args.reuse:
            load(rows=args.rows, days=args.days, seed=args.seed)
        measure(days=args.days, repeat=args.repeat)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: {bench_url}")
        else:
            database_drop(args.server)


# --- the scratch database --------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _ours(cursor: psycopg.Cursor[Any]) -> bool | None:
    """None: no such database; else whether it carries our mark."""
    cursor.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [DATABASE],
    )
    found = cursor.fetchone()
    return None if found is None else found[0] == MARK


def database_create(server: str) -> str:
    with psycopg.connect(server, autocommit=True) as conn, conn.cursor() as cursor:
        ours = _ours(cursor)
        if ours is False:
            sys.exit(f"{DATABASE} exists and was not made by this script: not touching it.")
        name = sql.Identifier(DATABASE)
        if ours:
            print(f"dropping the {DATABASE} left by an earlier run")
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
        cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(MARK)))
    return _with_database(server, DATABASE)


def database_drop(server: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn, conn.cursor() as cursor:
        if _ours(cursor):
            cursor.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DATABASE))
            )


def django_setup(database_url: str) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="support_bot.settings",
        SECRET_KEY="bench-only-secret-key-not-for-anything-else",
        SHOP_TOKEN_SECRET="bench-only-shop-token-secret",
        ALLOWED_HOSTS="testserver",
    )
    # In-process cache and tasks: the bench measures the database, not Redis.
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# --- loading ---------------------------------------------------------------------------


def load(*, rows: int, days: int, seed: int) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    from routing.models import LLMCall
    from support_bot.models import Conversation, Message, Rating

    started = time.perf_counter()
    traffic = Traffic(rows=rows, days=days, seed=seed)
    with connection.cursor() as cursor:
        raw = cursor.connection
        # Conversations first: generating them fills the other three lists.
        counts = {
            "conversations": copy_rows(
                raw, Conversation, Traffic.CONVERSATION, traffic.conversations()
            )
        }
        counts["messages"] = copy_rows(raw, Message, Traffic.MESSAGE, traffic.messages)
        counts["ratings"] = copy_rows(raw, Rating, Traffic.RATING, traffic.ratings)
        counts["ledger rows"] = copy_rows(raw, LLMCall, Traffic.LEDGER, traffic.ledger)
        for model in (Conversation, Message, Rating, LLMCall):
            for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
                cursor.execute(statement)
        # A steady ledger is vacuumed by autovacuum; the visibility map lets index-only
        # scans skip the heap, as they do in production.
        cursor.execute("VACUUM ANALYZE")
    loaded = ", ".join(f"{n:,} {what}" for what, n in counts.items())
    print(f"loaded {loaded} in {time.perf_counter() - started:.1f} s")


def copy_rows(raw: Any, model: Any, names: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY ``rows`` (values for the fields ``names``) into ``model``'s table.

    Every other column gets its field's default, so the bench keeps working when a
    field with a default is added to a model.
    """
    from django.db import connection

    fields = {field.name: field for field in model._meta.concrete_fields}
    given = [fields[name] for name in names]
    rest = [f for f in fields.values() if f.name not in names and not f.primary_key]
    defaults = tuple(f.get_db_prep_save(f.get_default(), connection) for f in rest)
    columns = sql.SQL(", ").join(sql.Identifier(f.column) for f in given + rest)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), columns
    )
    count = 0
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row + defaults)
            count += 1
    return count


class Traffic:
    """Generated conversations with their messages, ratings and ledger rows, by id."""

    CONVERSATION = [
        "id", "public_id", "state", "language", "identity", "escalated_at",
        "resolved_at", "resolution", "created_at", "updated_at",
    ]  # fmt: skip
    MESSAGE = ["id", "conversation", "role", "status", "text", "created_at"]
    RATING = ["conversation", "score", "created_at"]
    LEDGER = [
        "created_at", "conversation", "message", "tier", "provider", "model", "llm_model",
        "prompt_tokens", "completion_tokens", "cached_tokens", "input_price_per_mtok",
        "output_price_per_mtok", "cached_input_price_per_mtok", "cost_usd",
        "avoided_cost_usd", "ttft_ms", "total_ms", "outcome", "error_class", "attempt",
    ]  # fmt: skip

    def __init__(self, *, rows: int, days: int, seed: int) -> None:
        from django.utils import timezone

        from routing.models import TierRoute

        self.target, self.rng = rows, random.Random(seed)
        self.now = timezone.now()
        self.span = days * 86_400
        self.routes: dict[int, list[tuple[Any, ...]]] = {}
        for route in TierRoute.objects.filter(model__enabled=True).select_related(
            "model__provider"
        ):
            m = route.model
            cached = m.cached_input_price_per_mtok
            prices = (
                m.input_price_per_mtok,
                m.output_price_per_mtok,
                m.input_price_per_mtok if cached is None else cached,
            )
            self.routes.setdefault(route.tier, []).append((m.provider.name, m.name, m.pk, *prices))
        self.messages: list[tuple[Any, ...]] = []
        self.ratings: list[tuple[Any, ...]] = []
        self.ledger: list[tuple[Any, ...]] = []

    def conversations(self) -> Iterator[tuple[Any, ...]]:
        """Yields conversations while filling messages, ratings and the ledger."""
        rng, conversation_id, message_id = self.rng, 0, 0
        while len(self.ledger) < self.target:
            conversation_id += 1
            at = self.now - timedelta(seconds=rng.uniform(3_600, self.span))
            started = at
            turns = rng.choices((1, 2, 3, 4, 5), (30, 30, 20, 12, 8))[0]
            for turn in range(1, turns + 1):
                message_id += 2
                at += timedelta(seconds=rng.randint(20, 180))
                self.messages.append(
                    (message_id - 1, conversation_id, "shopper", "done", "Where is my order?", at)
                )
                self.messages.append(
                    (message_id, conversation_id, "bot", "done", "It ships today.", at)
                )
                self._bill(conversation_id, message_id, at, turn)
            escalated = at if rng.random() < 0.12 else None
            resolution = "agent" if escalated else ("bot" if rng.random() < 0.82 else "")
            resolved = at + timedelta(minutes=rng.randint(1, 30)) if resolution else None
            if resolved and rng.random() < 0.35:
                self.ratings.append(
                    (conversation_id, rng.choices(range(1, 6), (5, 6, 11, 30, 48))[0], resolved)
                )
            yield (
                conversation_id, uuid.UUID(int=rng.getrandbits(128), version=4),
                "resolved" if resolution else "bot", "en", "anonymous", escalated,
                resolved, resolution, started, resolved or at,
            )  # fmt: skip

    def _bill(self, conversation_id: int, message_id: int, at: datetime, turn: int) -> None:
        rng = self.rng
        prompt = 896 + rng.randint(350, 1_400) + 180 * (turn - 1)
        completion = rng.randint(40, 280)
        cached = 896 if turn > 1 else 0
        kind = rng.choices(("tier0", "cache", 1, 2, 3), (35, 15, 35, 10, 5))[0]
        cheap = self.routes[1][0]
        if kind == "tier0":
            avoided = _cost(cheap, prompt, completion, cached)
            self.ledger.append(
                _ledger(
                    at,
                    conversation_id,
                    message_id,
                    0,
                    None,
                    0,
                    0,
                    0,
                    Decimal(0),
                    avoided,
                    "tier0",
                    1,
                )
            )
            return
        if kind == "cache":
            tier = rng.choices((1, 2, 3), (70, 25, 5))[0]
            route = self.routes[tier][0]
            avoided = _cost(route, prompt, completion, cached)
            self.ledger.append(
                _ledger(
                    at,
                    conversation_id,
                    message_id,
                    tier,
                    route,
                    0,
                    0,
                    0,
                    Decimal(0),
                    avoided,
                    "cache_hit",
                    1,
                )
            )
            return
        chain = self.routes[int(kind)]
        attempt = 1
        if rng.random() < 0.03 and len(chain) > 1:
            self.ledger.append(
                _ledger(
                    at - timedelta(seconds=30),
                    conversation_id,
                    message_id,
                    int(kind),
                    chain[0],
                    0,
                    0,
                    0,
                    Decimal(0),
                    Decimal(0),
                    "fallback",
                    1,
                )
            )
            chain, attempt = chain[1:], 2
        cost = _cost(chain[0], prompt, completion, cached)
        self.ledger.append(
            _ledger(
                at,
                conversation_id,
                message_id,
                int(kind),
                chain[0],
                prompt,
                completion,
                cached,
                cost,
                Decimal(0),
                "ok",
                attempt,
            )
        )


def _cost(route: tuple[Any, ...], prompt: int, completion: int, cached: int) -> Decimal:
    price_in, price_out, price_cached = route[3:6]
    return ((prompt - cached) * price_in + cached * price_cached + completion * price_out) / MILLION


def _ledger(
    at: datetime, conversation_id: int, message_id: int, tier: int, route: tuple[Any, ...] | None,
    prompt: int, completion: int, cached: int, cost: Decimal, avoided: Decimal, outcome: str,
    attempt: int,
) -> tuple[Any, ...]:  # fmt: skip
    provider, model, model_id, *prices = route or ("", "", None, 0, 0, 0)
    return (
        at, conversation_id, message_id, tier, provider,
        model, model_id, prompt, completion, cached, *prices, cost, avoided, 400, 2_000,
        outcome, "ProviderTimeout" if outcome == "fallback" else "", attempt,
    )  # fmt: skip


# --- measuring -------------------------------------------------------------------------


def measure(*, days: int, repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from support_bot.cost_report.selectors import report_today

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    today = report_today()
    everything = f"start={today - timedelta(days=days)}&end={today}"
    urls = [
        ("page, last 30 days (default)", "/admin/costs/"),
        ("CSV, last 30 days", "/admin/costs/export.csv"),
        (f"page, all {days + 1} days", f"/admin/costs/?{everything}"),
        (f"CSV, all {days + 1} days", f"/admin/costs/export.csv?{everything}"),
        ("page, one provider, tier 1", "/admin/costs/?provider=DeepSeek&tier=1"),
    ]
    load1, load5, _ = os.getloadavg()
    print(f"\nload average {load1:.2f} (1 min), {load5:.2f} (5 min) on {os.cpu_count()} CPUs")
    print(f"{'request':<32} {'first':>9} {'median':>9} {'max':>9}  (of {repeat}, ms)")
    for label, url in urls:
        timings = [_timed(client, url) for _ in range(repeat + 1)]
        first, rest = timings[0], timings[1:]
        print(f"{label:<32} {first:>9.0f} {statistics.median(rest):>9.0f} {max(rest):>9.0f}")


def _timed(client: Any, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed


if __name__ == "__main__":
    main()
