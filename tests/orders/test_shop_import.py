from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from orders.import_schema import ShopImportError
from orders.models import (
    Customer,
    Order,
    OrderLine,
    Payment,
    Policy,
    Product,
    ProductVariant,
    Shipment,
)
from orders.services.shop_import import shop_import, shop_import_file

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

MODELS = [Customer, Product, ProductVariant, Order, OrderLine, Shipment, Payment, Policy]


def shop() -> dict[str, Any]:
    return {
        "customers": [
            {"id": "C-1", "name": "Ada Lovelace", "email": "ada@example.com", "postal_code": "NW1"},
            {"id": "C-2", "name": "Grace Hopper", "email": "grace@example.com", "language": "de"},
        ],
        "products": [
            {
                "id": "P-1",
                "name": "Trail Runner",
                "variants": [
                    {"sku": "TR-42", "options": {"size": "42"}, "price": "89.00", "currency": "USD"}
                ],
            }
        ],
        "orders": [
            {
                "number": "100001",
                "customer": "C-1",
                "status": "shipped",
                "placed_at": "2025-03-01T14:05:00Z",
                "currency": "USD",
                "shipping_total": "4.95",
                "shipping_address": {"name": "Ada Lovelace", "city": "London"},
                "lines": [
                    {
                        "id": "1",
                        "sku": "TR-42",
                        "name": "Trail Runner",
                        "quantity": 2,
                        "unit_price": "89.00",
                    },
                    {"id": "2", "name": "Socks", "quantity": 1, "unit_price": "5.50"},
                ],
                "shipments": [
                    {
                        "id": "SH-1",
                        "carrier": "UPS",
                        "tracking_numbers": ["1Z999AA10123456784", "1Z999AA10123456785"],
                        "lines": ["1", "2"],
                        "status": "in_transit",
                        "shipped_at": "2025-03-02T08:00:00Z",
                        "estimated_delivery": "2025-03-05",
                    }
                ],
                "payments": [
                    {
                        "id": "PAY-1",
                        "method": "card",
                        "amount": "188.45",
                        "created_at": "2025-03-01T14:05:10Z",
                    }
                ],
            },
            {
                "number": "100002",
                "customer": "C-2",
                "status": "returned",
                "placed_at": "2025-02-01T10:00:00+01:00",
                "currency": "EUR",
                "lines": [
                    {
                        "id": "1",
                        "name": "Rain Jacket",
                        "quantity": 1,
                        "unit_price": "120",
                        "status": "returned",
                    }
                ],
                "payments": [
                    {
                        "id": "PAY-2",
                        "method": "paypal",
                        "amount": "120.00",
                        "created_at": "2025-02-01T10:01:00Z",
                    },
                    {
                        "id": "RF-2",
                        "kind": "refund",
                        "method": "paypal",
                        "amount": "120.00",
                        "created_at": "2025-02-20T10:01:00Z",
                    },
                ],
            },
        ],
        "policies": [
            {
                "key": "returns",
                "kind": "returns",
                "title": "Returns",
                "body": "30 days.",
                "window_days": 30,
            }
        ],
    }


def snapshot() -> dict[str, list[dict[str, Any]]]:
    state = {
        model.__name__: [model_to_dict(row) for row in model._default_manager.order_by("pk")]
        for model in MODELS
    }
    state["ShipmentLines"] = [
        dict(row)
        for row in Shipment.lines.through.objects.order_by("pk").values(
            "shipment_id", "orderline_id"
        )
    ]
    return state


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(data))
    return path


def test_valid_file_imports_everything_a_support_bot_needs(tmp_path: Path) -> None:
    call_command("import_shop", str(write(tmp_path, shop())))

    order = Order.objects.get(number="100001")
    assert order.customer.name == "Ada Lovelace"
    assert order.subtotal == Decimal("183.50")  # computed from the lines
    assert order.total == Decimal("188.45")
    assert order.shipping_address == "Ada Lovelace, London"
    shipment = order.shipments.get()
    assert shipment.tracking_numbers == ["1Z999AA10123456784", "1Z999AA10123456785"]
    assert {line.line_id for line in shipment.lines.all()} == {"1", "2"}
    assert order.lines.get(line_id="1").variant == ProductVariant.objects.get(sku="TR-42")
    returned = Order.objects.get(number="100002")
    assert returned.placed_at.utcoffset() is not None
    assert returned.payments.get(kind="refund").amount == Decimal("120.00")
    assert returned.payments.get(kind="refund").currency == "EUR"
    assert Policy.objects.get(key="returns").version == 1


def test_importing_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, shop())
    shop_import_file(path=path)
    first = snapshot()
    summary = shop_import_file(path=path)
    assert snapshot() == first
    assert summary.created["orders"] == 0
    assert summary.updated["orders"] == 2


def test_reimport_updates_and_drops_what_the_order_no_longer_lists(tmp_path: Path) -> None:
    shop_import(data=shop())
    changed = shop()
    changed["orders"][0]["status"] = "delivered"
    changed["orders"][0]["lines"].pop()  # line 2 went away
    changed["orders"][0]["shipments"][0]["lines"] = ["1"]
    changed["policies"][0]["body"] = "Now 60 days."
    shop_import(data=changed)

    order = Order.objects.get(number="100001")
    assert order.status == "delivered"
    assert list(order.lines.values_list("line_id", flat=True)) == ["1"]
    assert list(order.shipments.get().lines.values_list("line_id", flat=True)) == ["1"]
    assert Policy.objects.get(key="returns").version == 2


def mutate(path: str, value: Any) -> dict[str, Any]:
    """A copy of the valid shop with the value at a dotted path replaced (or removed)."""
    data = copy.deepcopy(shop())
    parts = path.split(".")
    target: Any = data
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is REMOVE:
        del target[last]
    else:
        target[last] = value
    return data


REMOVE = object()

MALFORMED = [
    (
        "wrong type",
        mutate("orders.0.lines.1.unit_price", "12,5 euros"),
        "orders[0].lines[1].unit_price: not a decimal",
    ),
    ("missing field", mutate("orders.1.placed_at", REMOVE), "orders[1].placed_at: missing"),
    (
        "unknown status",
        mutate("orders.0.status", "lost_in_space"),
        "orders[0].status: unknown value 'lost_in_space'",
    ),
    (
        "negative amount",
        mutate("orders.1.payments.1.amount", "-120.00"),
        "orders[1].payments[1].amount: must not be negative",
    ),
    (
        "naive datetime",
        mutate("orders.0.placed_at", "2025-03-01T14:05:00"),
        "orders[0].placed_at: needs a timezone",
    ),
    ("bad email", mutate("customers.1.email", "grace-at-example"), "customers[1].email:"),
    ("unknown field", mutate("orders.0.discount", "5"), "orders[0].discount: unknown field"),
    (
        "unknown customer",
        mutate("orders.1.customer", "C-404"),
        "orders[1].customer: unknown customer 'C-404'",
    ),
    (
        "shipment of a line that is not there",
        mutate("orders.0.shipments.0.lines", ["1", "9"]),
        "orders[0].shipments[0].lines[1]: no line '9'",
    ),
    ("top level not an object", [1, 2, 3], "(file): the top level must be a JSON object"),
]


@pytest.mark.parametrize(("case", "data", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_names_record_and_field_and_changes_nothing(
    tmp_path: Path, case: str, data: Any, expected: str
) -> None:
    shop_import(data=shop())  # the shop already has data; a bad import must not touch it
    before = snapshot()
    with pytest.raises(CommandError) as raised:
        call_command("import_shop", str(write(tmp_path, data)))
    assert expected in str(raised.value)
    assert "nothing was imported" in str(raised.value)
    assert snapshot() == before


def test_duplicate_ids_are_named(tmp_path: Path) -> None:
    data = shop()
    data["orders"].append(copy.deepcopy(data["orders"][0]))
    data["customers"].append(copy.deepcopy(data["customers"][0]))
    data["orders"][1]["lines"].append({"id": "1", "name": "Hat", "quantity": 1, "unit_price": "1"})
    with pytest.raises(ShopImportError) as raised:
        shop_import(data=data)
    errors = raised.value.errors
    assert "customers[2]: duplicate id 'C-1' (also customers[0])" in errors
    assert "orders[2]: duplicate id '100001' (also orders[0])" in errors
    assert "orders[1].lines[1]: duplicate id '1' (also orders[1].lines[0])" in errors
    assert any(e.startswith("orders[2].shipments[0].id: duplicate id 'SH-1'") for e in errors)
    assert Order.objects.count() == 0


def test_one_bad_record_among_many_rolls_back_everything(tmp_path: Path) -> None:
    data = shop()
    data["orders"][1]["lines"][0]["unit_price"] = "abc"
    with pytest.raises(ShopImportError):
        shop_import(data=data)
    assert all(model._default_manager.count() == 0 for model in MODELS)


def test_broken_json_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"customers": [\n  {"id": "C-1",,}\n]}')
    with pytest.raises(CommandError) as raised:
        call_command("import_shop", str(path))
    assert "broken JSON at line 2" in str(raised.value)
    assert Customer.objects.count() == 0


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    shop_import(data=shop())
    before = snapshot()
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.seek(50 * 1024 * 1024)
        handle.write(b"}")  # a sparse 50 MB file, which is not even valid JSON
    with pytest.raises(CommandError) as raised:
        call_command("import_shop", str(path))
    assert "50.0 MB is over the import limit of 20 MB" in str(raised.value)
    assert snapshot() == before


def test_orders_may_refer_to_customers_imported_earlier(tmp_path: Path) -> None:
    shop_import(data={"customers": shop()["customers"]})
    only_orders = {"orders": shop()["orders"]}
    summary = shop_import(data=only_orders)
    assert summary.created["orders"] == 2
    assert Order.objects.get(number="100002").customer.external_id == "C-2"
