"""Tokens and fact recall of the order context, on tau-bench's retail data.

    python bench/context.py [--src ../shared/eval/taubench_retail]
                            [--tasks tasks_train.jsonl] [--budget N]

Converts the data with ``taubench_to_shop.convert`` and imports it into a throwaway
SQLite database in a temporary directory (the data is read where it is, never copied
into the project), then compares three texts about a customer's orders:

(a) ``json.dumps(orders, indent=2)`` of the user's orders in tau-bench's JSON;
(b) a pruner in the style of the first ``orders/context.py``: the last three orders,
    item names cut to 20 characters, two items then "+N more";
(c) ours: ``order_context_build`` + ``order_context_render``.

Per customer (message empty): tokens, and recall of every fact of every order (number,
status, each item's name with its option values, each price, tracking id, payment
method id with its amount). A fact counts only if it is in that order's part of the
text (from its number to the next order's number), so a status word elsewhere does not.

Per task (message = the task's instruction, the user's first words): recall of the
facts of the order(s) in its gold actions, and of the ids the actions use (order ids,
payment method ids) and its expected outputs. Item ids are not checked: the shop shows
products by name and options, which the item facts cover. A payment method that none
of the user's orders used cannot be in any order context; those are counted apart.

Dates are relative to tau-bench's anchor day (2025-06-30), as in the conversion.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from taubench_to_shop import ANCHOR, STATUSES, convert  # noqa: E402

SEED_ORDERS = 3
SEED_ITEMS = 2
SEED_NAME_CHARS = 20
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def main() -> int:
    args = _arguments()
    src: Path = args.src
    data = {name: _load(src / f"{name}.json") for name in ("users", "products", "orders")}
    tasks = [json.loads(line) for line in (src / args.tasks).read_text().splitlines() if line]
    var_dir = tempfile.mkdtemp(prefix="context-bench-")
    try:
        _django(var_dir)
        shop = convert(
            users=data["users"],
            products=data["products"],
            orders=data["orders"],
            policy=(src / "retail_agent_policy.md").read_text(encoding="utf-8"),
        )
        from orders.services.shop_import import shop_import

        shop_import(data=shop)
        bench = Bench(users=data["users"], orders=data["orders"], budget=args.budget)
        customers = [bench.customer(user_id) for user_id in data["users"]]
        task_results = [bench.task(task) for task in tasks]
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    _report(customers, task_results, args)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT / "../shared/eval/taubench_retail")
    parser.add_argument("--tasks", default="tasks_train.jsonl", help="a task file in --src")
    parser.add_argument("--budget", type=int, default=None, help="tokens (default: settings)")
    return parser.parse_args()


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def _django(var_dir: str) -> None:
    # The embedded default on a fresh directory: a throwaway SQLite database.
    os.environ["SUPPORT_BOT_VAR_DIR"] = var_dir
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# The three texts


def tau_json(orders: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(orders), indent=2)


def seed_style(orders: Sequence[Any]) -> str:
    """(b): the first context's format, pruned (``orders`` are OrderFacts, newest first)."""
    if not orders:
        return "No orders."
    parts = []
    for order in orders[:SEED_ORDERS]:
        items = [
            f"{line.quantity}x {line.name[:SEED_NAME_CHARS]} {line.unit_price} {order.currency}"
            for line in order.lines[:SEED_ITEMS]
        ]
        if len(order.lines) > SEED_ITEMS:
            items.append(f"+{len(order.lines) - SEED_ITEMS} more")
        parts.append(
            f"Order {order.number}: {order.status}, placed {order.placed_at:%Y-%m-%d}, "
            f"total {order.total} {order.currency}. Items: {'; '.join(items)}."
        )
        for s in order.shipments:
            eta = f"ETA {s.estimated_delivery}" if s.estimated_delivery else "no ETA"
            parts.append(f"  Parcel {s.carrier} {' '.join(s.tracking_numbers)}: {s.status}, {eta}.")
        for p in order.payments:
            parts.append(f"  {p.kind} {p.amount} {order.currency} by {p.method}: {p.status}.")
    return "\n".join(parts)


# Facts


@dataclass(frozen=True)
class Fact:
    """Found when its order's part of the text has all ``words`` (any case), all
    ``amounts`` (as numbers, so 45.9 and 45.90 agree) and, if given, one of ``any_of``."""

    kind: str
    order_id: str
    words: tuple[str, ...] = ()
    amounts: tuple[Decimal, ...] = ()
    any_of: tuple[str, ...] = ()

    def found(self, text: str, numbers: set[Decimal]) -> bool:
        lower = text.lower()
        return (
            all(word.lower() in lower for word in self.words)
            and all(amount in numbers for amount in self.amounts)
            and (not self.any_of or any(word in lower for word in self.any_of))
        )


def order_facts(order: dict[str, Any]) -> list[Fact]:
    """The facts of one tau-bench order a context should carry."""
    oid = order["order_id"]
    shop_status = STATUSES[order["status"]][0].replace("_", " ")
    # Either vocabulary: (a) says "processed" where the shop says "shipped".
    statuses = (order["status"], shop_status, f"partially {shop_status}")
    facts = [Fact("order number", oid, words=(oid,)), Fact("status", oid, any_of=statuses)]
    for item in _distinct_items(order):
        options = tuple(str(value) for value in item["options"].values())
        facts.append(Fact("item + options", oid, words=(item["name"], *options)))
        facts.append(Fact("price", oid, amounts=(_decimal(item["price"]),)))
    for fulfillment in order["fulfillments"]:
        facts.extend(Fact("tracking id", oid, words=(t,)) for t in fulfillment["tracking_id"])
    for entry in order["payment_history"]:
        amount = _decimal(entry["amount"])
        facts.append(Fact("payment", oid, words=(entry["payment_method_id"],), amounts=(amount,)))
    return facts


def _distinct_items(order: dict[str, Any]) -> list[dict[str, Any]]:
    return list({item["item_id"]: item for item in order["items"]}.values())


def _decimal(value: Any) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(
        Decimal("0.01")
    )


def segments(text: str, order_ids: Iterable[str]) -> dict[str, str]:
    """Each order's part of ``text``: from its first mention to the next order's."""
    starts = sorted((text.find(oid), oid) for oid in order_ids if oid in text)
    if not starts:
        return {}
    ends = [start for start, _ in starts[1:]] + [len(text)]
    return {oid: text[start:end] for (start, oid), end in zip(starts, ends, strict=True)}


def recall(text: str, facts: Sequence[Fact], order_ids: Iterable[str]) -> int:
    """How many ``facts`` are in their order's part of ``text`` (``order_ids``: all the user's)."""
    parts = segments(text, order_ids)
    found = 0
    for fact in facts:
        part = parts.get(fact.order_id, "")
        found += fact.found(part, _numbers(part))
    return found


def _numbers(text: str) -> set[Decimal]:
    numbers = set()
    for match in _NUMBER.findall(text):
        try:
            numbers.add(Decimal(match).quantize(Decimal("0.01")))
        except InvalidOperation:  # a long id is no amount
            continue
    return numbers


# Measuring


@dataclass
class Result:
    tokens: dict[str, int]
    found: dict[str, int]
    total: int
    ids_found: dict[str, int] = field(default_factory=dict)
    ids_total: int = 0
    ids_elsewhere: int = 0
    first_found: dict[str, int] = field(default_factory=dict)
    first_total: int = 0
    named_first: bool = False
    orders: int = 0
    outputs: int = 0


class Bench:
    def __init__(self, *, users: dict[str, Any], orders: dict[str, Any], budget: int | None):
        from orders.models import Customer

        self.users, self.orders, self.budget = users, orders, budget
        self.pk = dict(Customer.objects.values_list("external_id", "pk"))

    def texts(self, user_id: str, message: str) -> tuple[dict[str, str], Any]:
        from orders.context import order_context_build, order_context_rendering

        context = order_context_build(
            customer_id=self.pk[user_id],
            message=message,
            budget_tokens=self.budget,
            today=ANCHOR.date(),
        )
        rendering = order_context_rendering(context)
        texts = {
            "a": tau_json(self._orders(user_id)),
            "b": seed_style(context.orders),
            "c": rendering.text,
        }
        return texts, rendering

    def _orders(self, user_id: str) -> list[dict[str, Any]]:
        return [self.orders[oid] for oid in self.users[user_id]["orders"] if oid in self.orders]

    def customer(self, user_id: str) -> Result:
        from orders.tokens import count_tokens

        texts, _ = self.texts(user_id, "")
        facts = [fact for order in self._orders(user_id) for fact in order_facts(order)]
        ids = self.users[user_id]["orders"]
        found = {key: recall(text, facts, ids) for key, text in texts.items()}
        tokens = {key: count_tokens(text) for key, text in texts.items()}
        return Result(tokens, found, len(facts), orders=len(self._orders(user_id)))

    def task(self, task: dict[str, Any]) -> Result:
        from orders.tokens import count_tokens

        user_id = task["user_id"]
        texts, rendering = self.texts(user_id, task["instruction"])
        gold = list(dict.fromkeys(a["kwargs"]["order_id"] for a in task["actions"]))
        facts = [fact for oid in gold for fact in order_facts(self.orders[oid])]
        first = order_facts(self.orders[gold[0]]) if gold else []
        used = {p["payment_method_id"] for o in self._orders(user_id) for p in o["payment_history"]}
        methods = {a["kwargs"].get("payment_method_id") or "" for a in task["actions"]} - {""}
        ids = [*gold, *sorted(methods & used), *task.get("outputs", [])]
        all_ids = self.users[user_id]["orders"]
        result = Result(
            tokens={key: count_tokens(text) for key, text in texts.items()},
            found={key: recall(text, facts, all_ids) for key, text in texts.items()},
            total=len(facts),
            ids_found={key: sum(i.lower() in t.lower() for i in ids) for key, t in texts.items()},
            ids_total=len(ids),
            ids_elsewhere=len(methods - used),
            first_found={key: recall(text, first, all_ids) for key, text in texts.items()},
            first_total=len(first),
            named_first=bool(gold) and rendering.full[:1] == (gold[0],),
            outputs=len(task.get("outputs", [])),
        )
        return result


# Reporting


def _report(customers: list[Result], tasks: list[Result], args: argparse.Namespace) -> None:
    from django.conf import settings

    from orders.tokens import TOKENIZER_NAME

    budget = args.budget or getattr(settings, "ORDER_CONTEXT_TOKENS", 300)
    with_orders = [c for c in customers if c.orders]
    names = {"a": "(a) tau-bench JSON", "b": "(b) seed-style pruner", "c": "(c) ours"}
    print(f"tokenizer: {TOKENIZER_NAME}; budget {budget} tokens; tasks {args.tasks}")
    print(f"\nPer customer ({len(with_orders)} with orders of {len(customers)}; empty message)")
    print(
        f"{'text':<24}{'median tok':>11}{'mean tok':>10}{'median % of (a)':>17}{'fact recall':>13}"
    )
    for key, name in names.items():
        tokens = [c.tokens[key] for c in with_orders]
        ratio = [c.tokens[key] / c.tokens["a"] for c in with_orders]
        found = sum(c.found[key] for c in with_orders) / sum(c.total for c in with_orders)
        print(
            f"{name:<24}{statistics.median(tokens):>11.0f}{statistics.mean(tokens):>10.0f}"
            f"{100 * statistics.median(ratio):>16.1f}%{100 * found:>12.1f}%"
        )
    print(
        f"\nPer task ({len(tasks)} tasks; message = instruction). Recall of the first gold "
        "order's facts, of all gold orders' facts, and of gold ids + expected outputs"
    )
    print(
        f"{'text':<24}{'median tok':>11}{'median % of (a)':>17}{'1st order':>11}{'all gold':>10}"
        f"{'ids+outputs':>13}{'perfect':>9}"
    )
    for key, name in names.items():
        first = sum(t.first_found[key] for t in tasks) / sum(t.first_total for t in tasks)
        every = sum(t.found[key] for t in tasks) / sum(t.total for t in tasks)
        ids = sum(t.ids_found[key] for t in tasks) / max(1, sum(t.ids_total for t in tasks))
        perfect = sum(t.first_found[key] == t.first_total for t in tasks) / len(tasks)
        print(
            f"{name:<24}{statistics.median(t.tokens[key] for t in tasks):>11.0f}"
            f"{100 * statistics.median(t.tokens[key] / t.tokens['a'] for t in tasks):>16.1f}%"
            f"{100 * first:>10.1f}%{100 * every:>9.1f}%{100 * ids:>12.1f}%{100 * perfect:>8.1f}%"
        )
    print(
        f"\nours: first gold order shown first and in full in "
        f"{sum(t.named_first for t in tasks)}/{len(tasks)} tasks; "
        f"over budget in {sum(t.tokens['c'] > budget for t in tasks)}; "
        f"payment method ids no order of the user used (not checkable): "
        f"{sum(t.ids_elsewhere for t in tasks)}; expected outputs in the task file: "
        f"{sum(t.outputs for t in tasks)}"
    )


if __name__ == "__main__":
    sys.exit(main())
