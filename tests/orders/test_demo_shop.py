from __future__ import annotations

import json
from collections import Counter
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from orders.demo_shop import demo_shop_data
from orders.import_schema import parse_shop_file
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
from routing.models import IntentAnswer
from support_bot.services.demo_answers import DEMO_ANSWERS

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

TODAY = date(2025, 7, 1)
MODELS = [Customer, Product, ProductVariant, Order, OrderLine, Shipment, Payment, Policy]


@pytest.fixture(scope="module")
def shop() -> dict[str, Any]:
    return demo_shop_data(today=TODAY)


def orders_of(shop: dict[str, Any], customer: str) -> list[dict[str, Any]]:
    return [order for order in shop["orders"] if order["customer"] == customer]


def is_late(shipment: dict[str, Any]) -> bool:
    due = date.fromisoformat(shipment["estimated_delivery"])
    return shipment["status"] in ("in_transit", "exception") and due < TODAY


def test_same_seed_and_day_give_the_same_shop(shop: dict[str, Any]) -> None:
    again = demo_shop_data(today=TODAY)
    assert json.dumps(again, sort_keys=True) == json.dumps(shop, sort_keys=True)


def test_another_seed_gives_another_shop(shop: dict[str, Any]) -> None:
    other = demo_shop_data(seed=8, today=TODAY)
    assert [o["placed_at"] for o in other["orders"]] != [o["placed_at"] for o in shop["orders"]]


def test_the_shop_passes_the_import_schema(shop: dict[str, Any]) -> None:
    parsed = parse_shop_file(shop)

    assert len(parsed.customers) >= 200
    assert len(parsed.orders) == 1000
    assert 35 <= len(parsed.products) <= 45
    numbers = [order.number for order in parsed.orders]
    assert len(set(numbers)) == 1000 and min(numbers) == "100001"
    assert {c.email.split("@")[1] for c in parsed.customers} <= {"example.com", "example.org"}
    assert {c.language for c in parsed.customers} == {"en", "de", "fr", "es"}


def test_orders_cover_every_status_and_everything_happened_before_today(
    shop: dict[str, Any],
) -> None:
    statuses = Counter(order["status"] for order in shop["orders"])

    assert set(statuses) == {choice.value for choice in Order.Status}
    assert statuses["delivered"] > statuses["returned"] > 0
    assert all(order["placed_at"] < TODAY.isoformat() for order in shop["orders"])


def test_line_statuses_follow_the_order(shop: dict[str, Any]) -> None:
    allowed = {
        "pending": {"ordered"},
        "processing": {"ordered"},
        "cancelled": {"cancelled"},
        "returned": {"returned"},
        "delivered": {"delivered", "return_requested"},
    }
    for order in shop["orders"]:
        lines = {line["status"] for line in order["lines"]}
        if order["status"] in allowed:
            assert lines <= allowed[order["status"]], order["number"]
        if order["status"] == "partially_returned":
            assert "returned" in lines and lines != {"returned"}, order["number"]


def test_some_orders_ship_in_several_parcels_and_some_parcels_are_late(
    shop: dict[str, Any],
) -> None:
    orders = shop["orders"]
    assert any(len(order["shipments"]) > 1 for order in orders)
    late = [s for order in orders for s in order["shipments"] if is_late(s)]
    assert late and all(s["delivered_at"] is None for s in late)
    carriers = {s["carrier"] for order in orders for s in order["shipments"]}
    assert carriers == {"UPS", "DHL", "FedEx", "USPS", "DPD", "Royal Mail"}


def test_refunds_follow_returns_and_cancellations_and_never_exceed_what_was_paid(
    shop: dict[str, Any],
) -> None:
    refunded = set()
    for order in shop["orders"]:
        paid = sum(Decimal(p["amount"]) for p in order["payments"] if p["kind"] == "payment")
        back = sum(Decimal(p["amount"]) for p in order["payments"] if p["kind"] == "refund")
        assert back <= paid, order["number"]
        if back:
            refunded.add(order["status"])
    assert refunded == {"returned", "partially_returned", "cancelled"}
    methods = [{p["method"] for p in order["payments"]} for order in shop["orders"]]
    assert any("gift_card" in used and len(used) > 1 for used in methods)


def test_the_two_demo_customers_have_stories_to_tell(shop: dict[str, Any]) -> None:
    ada, grace = orders_of(shop, "C-1001"), orders_of(shop, "C-1002")

    assert len(ada) >= 3 and len(grace) >= 3
    on_the_way = [
        o
        for o in ada
        if o["status"] == "shipped" and any(s["status"] == "in_transit" for s in o["shipments"])
    ]
    assert on_the_way and any(o["status"] == "delivered" for o in ada)
    assert any(p["kind"] == "refund" for o in grace for p in o["payments"])


def test_policies_match_the_data(shop: dict[str, Any]) -> None:
    policies = {policy["key"]: policy for policy in shop["policies"]}

    assert set(policies) == {"returns", "shipping", "warranty", "payment", "privacy"}
    assert policies["returns"]["window_days"] == 30
    assert policies["warranty"]["window_days"] == 730
    assert "30 days" in policies["returns"]["body"]
    for carrier in ("UPS", "FedEx", "USPS", "DHL", "DPD", "Royal Mail"):
        assert carrier in policies["shipping"]["body"]
    assert all(policy["body"].count("\n\n") >= 3 for policy in policies.values())


def snapshot() -> dict[str, Any]:
    counts = {model.__name__: model._default_manager.count() for model in MODELS}
    counts["parcel lines"] = Shipment.lines.through.objects.count()
    orders = list(Order.objects.order_by("number").values_list("number", "status", "total"))
    return {"counts": counts, "orders": orders}


def test_seed_demo_twice_leaves_the_same_data_and_an_admin_and_agent_who_can_sign_in() -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    first = snapshot()
    call_command("seed_demo", stdout=out, stderr=StringIO())

    assert snapshot() == first
    assert first["counts"]["Order"] == 1000
    assert "user admin, password admin-demo" in out.getvalue()
    assert Client().login(username="admin", password="admin-demo")
    # The demo's written answers, once each however often it runs.
    assert IntentAnswer.objects.count() == len(DEMO_ANSWERS)
    # The load benchmark's shop has written none.
    call_command("seed_demo", "--without-written-answers", stdout=out, stderr=StringIO())
    assert not IntentAnswer.objects.exists()
    assert snapshot() == first
    # The demo agent signs in where the console sends them, with the printed password.
    assert "user agent, password agent-demo" in out.getvalue()
    agent = Client()
    signed_in = agent.post("/agent/login/", {"username": "agent", "password": "agent-demo"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/agent/"
    assert agent.get("/agent/").status_code == 200
