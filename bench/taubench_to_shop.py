"""Convert the tau-bench retail data into a shop import file (docs/import.md).

    python bench/taubench_to_shop.py [--src ../shared/eval/taubench_retail]
                                     [--out var/taubench_shop.json]

Reads ``users.json``, ``products.json``, ``orders.json`` and ``retail_agent_policy.md``
from ``--src`` (the data stays where it is), validates the result with
``parse_shop_file`` and writes it only if it is importable:
``python manage.py import_shop var/taubench_shop.json``.

What maps to what:

- users → customers: id = tau-bench user id (``noah_brown_6181``), name from first and
  last name, email, postal code = address zip, language ``en``.
- products → products: id = product id; variants: sku = item id, options, price (USD),
  available.
- orders → orders: number = the order id exactly as tau-bench writes it (``#W2611340``),
  because the tasks refer to it; the order's own address; items → lines with line id =
  item id, keeping name, options and price. tau-bench lists an item twice when it was
  bought twice; that becomes one line with quantity 2, so line ids stay item ids.
- fulfillments → shipments (id ``<order id>-S<n>``) with their tracking ids and the
  items they carry.
- payment_history → payments (id ``<order id>-P<n>``): ``transaction_type`` refund →
  kind refund, otherwise payment; method from the payment method id's prefix
  (credit_card → card, gift_card → gift_card, paypal → paypal); the detail keeps the
  tau-bench payment method id, which tasks refer to, plus the card brand and last four.
- ``retail_agent_policy.md`` → policy ``taubench-retail`` (kind other).

Order status mapping (the data holds pending, processed, delivered and cancelled; the
other two appear once the benchmark's tools have run and are mapped for completeness):

    tau-bench             order status                    lines             shipments
    pending               pending                         ordered           —
    pending (item modified)  pending                      ordered           —
    processed             shipped                         shipped           in_transit
    delivered             delivered                       delivered         delivered
    cancelled             cancelled                       cancelled         label_created
    return requested      returned (all items) or         return_requested  delivered
                          partially_returned (some);      (the rest
                          items from ``return_items``     delivered)
    exchange requested    exchanged                       exchanged         delivered
                                                          (``exchange_items``;
                                                          the rest delivered)

"processed" means shipped and on its way: in tau-bench such an order can no longer be
cancelled and cannot yet be returned, which is what "shipped" tells the bot. A
cancelled order's fulfillment (an artefact of the data) becomes a label that never left
the warehouse, with no delivery estimate.

tau-bench has no dates or carriers. They are derived from a SHA-256 of the order id, so
every run gives the same file. placed_at falls within the 12 months before 2025-06-30:
pending orders in its last 5 days and processed ones 2 to 7 days before it, so that
their status is believable (about a quarter of those parcels are past their estimate,
as real ones are). The carrier is one of UPS, FedEx, USPS and DHL; parcels ship 1 to 3
days after the order and are due 3 to 6 days after shipping; delivered parcels arrive on
the estimated day or the day before. Customers are created up to 90 days before their
first order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = datetime(2025, 6, 30, tzinfo=UTC)
CURRENCY = "USD"
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
METHODS = {"credit_card": "card", "gift_card": "gift_card", "paypal": "paypal"}
# tau-bench status → (order status, line status, shipment status)
STATUSES = {
    "pending": ("pending", "ordered", None),
    "pending (item modified)": ("pending", "ordered", None),
    "processed": ("shipped", "shipped", "in_transit"),
    "delivered": ("delivered", "delivered", "delivered"),
    "cancelled": ("cancelled", "cancelled", "label_created"),
    "return requested": ("returned", "delivered", "delivered"),
    "exchange requested": ("exchanged", "delivered", "delivered"),
}
# How long before the anchor an order was placed, in days, by tau-bench status.
AGES = {"pending": (0, 5), "pending (item modified)": (0, 5), "processed": (2, 7)}
YEAR = (14, 365)


def main() -> int:
    args = _arguments()
    started = time.monotonic()
    src: Path = args.src
    users = _load(src / "users.json")
    products = _load(src / "products.json")
    orders = _load(src / "orders.json")
    policy = (src / "retail_agent_policy.md").read_text(encoding="utf-8")
    shop = convert(users=users, products=products, orders=orders, policy=policy)
    if not _valid(shop):
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(shop, ensure_ascii=False), encoding="utf-8")
    _report(shop, args.out, time.monotonic() - started)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=Path("../shared/eval/taubench_retail"))
    parser.add_argument("--out", type=Path, default=Path("var/taubench_shop.json"))
    return parser.parse_args()


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def convert(
    *, users: dict[str, Any], products: dict[str, Any], orders: dict[str, Any], policy: str
) -> dict[str, Any]:
    """The shop import file for tau-bench's retail data (plain JSON-ready dict)."""
    unknown = sorted({o["status"] for o in orders.values()} - STATUSES.keys())
    if unknown:
        raise SystemExit(f"unknown tau-bench order statuses {unknown}: extend STATUSES")
    converted = [_order(order, users[order["user_id"]]) for order in orders.values()]
    first_order: dict[str, str] = {}
    for order in converted:
        customer = order["customer"]
        first_order[customer] = min(
            first_order.get(customer, order["placed_at"]), order["placed_at"]
        )
    return {
        "customers": [_customer(uid, user, first_order.get(uid)) for uid, user in users.items()],
        "products": [_product(item) for item in products.values()],
        "orders": converted,
        "policies": [
            {
                "key": "taubench-retail",
                "kind": "other",
                "title": "Retail agent policy (tau-bench)",
                "body": policy,
            }
        ],
    }


def _draw(key: str, salt: str, low: int, high: int) -> int:
    """A number in [low, high] that depends only on ``key``: dates without randomness."""
    digest = hashlib.sha256(f"{key}:{salt}".encode()).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: float | int | str) -> str:
    # repr of a float is its shortest round-trip form, so 47.84 stays "47.84".
    return str(
        Decimal(repr(amount) if isinstance(amount, float) else str(amount)).quantize(
            Decimal("0.01")
        )
    )


# Customers and catalogue


def _customer(user_id: str, user: dict[str, Any], first_order: str | None) -> dict[str, Any]:
    name = user["name"]
    if first_order:
        first = datetime.fromisoformat(first_order)
    else:
        first = ANCHOR - timedelta(days=_draw(user_id, "first", 0, 365))
    created = first - timedelta(
        days=_draw(user_id, "created", 0, 90), minutes=_draw(user_id, "m", 5, 600)
    )
    return {
        "id": user_id,
        "name": f"{name['first_name']} {name['last_name']}",
        "email": user["email"],
        "postal_code": user["address"]["zip"],
        "language": "en",
        "created_at": _iso(created),
    }


def _product(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["product_id"],
        "name": item["name"],
        "variants": [
            {
                "sku": variant["item_id"],
                "options": variant["options"],
                "price": _money(variant["price"]),
                "currency": CURRENCY,
                "available": variant["available"],
            }
            for variant in item["variants"].values()
        ],
    }


# Orders


def _order(order: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    order_id, source_status = order["order_id"], order["status"]
    status, line_status, _ = STATUSES[source_status]
    low, high = AGES.get(source_status, YEAR)
    placed = ANCHOR - timedelta(
        days=_draw(order_id, "age", low, high), minutes=_draw(order_id, "minute", 60, 1439)
    )
    lines = _lines(order, line_status)
    status = _after_delivery(order, lines, status)
    shipments = _shipments(order, placed)
    address, name = order["address"], user["name"]
    return {
        "number": order_id,
        "customer": order["user_id"],
        "status": status,
        "placed_at": _iso(placed),
        "currency": CURRENCY,
        "shipping_address": {
            "name": f"{name['first_name']} {name['last_name']}",
            "line1": address["address1"],
            "line2": address["address2"],
            "city": address["city"],
            "region": address["state"],
            "postal_code": address["zip"],
            "country": address["country"],
        },
        "lines": lines,
        "shipments": shipments,
        "payments": _payments(order, user, placed, shipments),
    }


def _lines(order: dict[str, Any], status: str) -> list[dict[str, Any]]:
    # An item listed twice was bought twice: one line, quantity 2, so ids stay item ids.
    lines: dict[str, dict[str, Any]] = {}
    for item in order["items"]:
        if item["item_id"] in lines:
            lines[item["item_id"]]["quantity"] += 1
            continue
        lines[item["item_id"]] = {
            "id": item["item_id"],
            "sku": item["item_id"],
            "name": item["name"],
            "options": item["options"],
            "quantity": 1,
            "unit_price": _money(item["price"]),
            "status": status,
        }
    return list(lines.values())


def _after_delivery(order: dict[str, Any], lines: list[dict[str, Any]], status: str) -> str:
    """Return and exchange requests name their items; the rest of the order stays delivered."""
    if status == "returned":
        wanted = set(order.get("return_items") or [line["id"] for line in lines])
        for line in lines:
            line["status"] = "return_requested" if line["id"] in wanted else "delivered"
        return "returned" if all(line["id"] in wanted for line in lines) else "partially_returned"
    if status == "exchanged":
        wanted = set(order.get("exchange_items") or [line["id"] for line in lines])
        for line in lines:
            line["status"] = "exchanged" if line["id"] in wanted else "delivered"
    return status


def _shipments(order: dict[str, Any], placed: datetime) -> list[dict[str, Any]]:
    order_id = order["order_id"]
    _, _, status = STATUSES[order["status"]]
    shipments = []
    for index, fulfillment in enumerate(order["fulfillments"], start=1):
        key = f"{order_id}:{index}"
        shipped = placed + timedelta(days=_draw(key, "ship", 1, 3), hours=_draw(key, "hour", 0, 8))
        eta = shipped.date() + timedelta(days=_draw(key, "eta", 3, 6))
        shipments.append(
            {
                "id": f"{order_id}-S{index}",
                "carrier": CARRIERS[_draw(order_id, "carrier", 0, len(CARRIERS) - 1)],
                "tracking_numbers": fulfillment["tracking_id"],
                "lines": list(dict.fromkeys(fulfillment["item_ids"])),
                "status": status,
                "shipped_at": None if status == "label_created" else _iso(shipped),
                "estimated_delivery": None if status == "label_created" else eta.isoformat(),
                "delivered_at": _delivered_at(key, eta) if status == "delivered" else None,
            }
        )
    return shipments


def _delivered_at(key: str, eta: date) -> str:
    day = eta - timedelta(days=_draw(key, "early", 0, 1))
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return _iso(moment + timedelta(hours=_draw(key, "at", 9, 19), minutes=_draw(key, "min", 0, 59)))


def _payments(
    order: dict[str, Any], user: dict[str, Any], placed: datetime, shipments: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    order_id = order["order_id"]
    delivered = [s["delivered_at"] for s in shipments if s["delivered_at"]]
    # Cancellations are refunded within hours; returns once the items are back.
    refunded = (
        datetime.fromisoformat(max(delivered)) + timedelta(days=_draw(order_id, "refund", 5, 12))
        if delivered
        else placed + timedelta(hours=_draw(order_id, "refund", 1, 20))
    )
    payments = []
    for index, entry in enumerate(order["payment_history"], start=1):
        refund = entry["transaction_type"] == "refund"
        method_id = entry["payment_method_id"]
        payments.append(
            {
                "id": f"{order_id}-P{index}",
                "kind": "refund" if refund else "payment",
                "method": METHODS[method_id.rsplit("_", 1)[0]],
                "method_detail": _method_detail(method_id, user),
                "amount": _money(entry["amount"]),
                "status": "succeeded",
                "created_at": _iso(refunded if refund else placed + timedelta(seconds=40)),
            }
        )
    return payments


def _method_detail(method_id: str, user: dict[str, Any]) -> str:
    method = user["payment_methods"].get(method_id, {})
    if method.get("brand") and method.get("last_four"):
        return f"{method_id} ({method['brand'].title()} ending {method['last_four']})"
    return method_id


# Checking and reporting


def _valid(shop: dict[str, Any]) -> bool:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from orders.import_schema import ShopImportError, parse_shop_file

    try:
        parse_shop_file(shop)
    except ShopImportError as exc:
        print(f"The converted file would not import:\n{exc}", file=sys.stderr)
        return False
    return True


def _report(shop: dict[str, Any], out: Path, seconds: float) -> None:
    orders = shop["orders"]
    payments = [p for o in orders for p in o["payments"]]
    print(f"Wrote {out} ({out.stat().st_size / 1_048_576:.1f} MB) in {seconds:.1f} s")
    print(
        f"customers {len(shop['customers'])}, products {len(shop['products'])}, "
        f"variants {sum(len(p['variants']) for p in shop['products'])}, orders {len(orders)}, "
        f"lines {sum(len(o['lines']) for o in orders)}, "
        f"shipments {sum(len(o['shipments']) for o in orders)}, payments {len(payments)} "
        f"({sum(p['kind'] == 'refund' for p in payments)} refunds), "
        f"policies {len(shop['policies'])}"
    )
    statuses = Counter(o["status"] for o in orders)
    print("orders by status: " + ", ".join(f"{k} {v}" for k, v in statuses.most_common()))


if __name__ == "__main__":
    sys.exit(main())
