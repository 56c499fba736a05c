"""Tier 0: answers from the shop's own rows, no model."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from orders.models import Customer, Order, Payment
from routing.tier0 import VERIFY_FIRST, tier0_answer
from tests.factories import OrderFactory, PaymentFactory, PolicyFactory, ShipmentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

TODAY = date(2026, 11, 21)


def answer(customer: Customer, intent: str, message: str = "", language: str = "en") -> str:
    result = tier0_answer(
        intent=intent, customer_id=customer.pk, message=message, language=language, today=TODAY
    )
    assert result is not None
    return result.text


def test_order_status_names_the_order_and_its_parcels(customer: Customer) -> None:
    order = Order.objects.get(number="100001")
    order.status = Order.Status.SHIPPED
    order.save()
    ShipmentFactory(
        order=order,
        carrier="DHL",
        tracking_numbers=["JD014600003828"],
        estimated_delivery=TODAY + timedelta(days=2),
    )
    text = answer(customer, "order_status", "where is order 100001?")
    assert "100001" in text and "on its way" in text
    assert "DHL" in text and "JD014600003828" in text and "23 Nov 2026" in text


@pytest.mark.parametrize(
    ("language", "parcel"),
    [
        ("en", "Parcel 1 with UPS (tracking 1Z999): delivered 19 Nov 2026."),
        ("de", "Paket 1 mit UPS (Sendungsnummer 1Z999): zugestellt am 19.11.2026."),
    ],
)
def test_a_delivered_parcel_says_when_once(customer: Customer, language: str, parcel: str) -> None:
    order = Order.objects.get(number="100001")
    order.status = Order.Status.DELIVERED
    order.save()
    delivered = timezone.make_aware(datetime(2026, 11, 19, 14, 0))
    ShipmentFactory(
        order=order,
        carrier="UPS",
        tracking_numbers=["1Z999"],
        status="delivered",
        delivered_at=delivered,
    )
    text = answer(customer, "order_status", language=language)
    assert text.endswith(parcel)


def test_a_late_parcel_is_called_late(customer: Customer) -> None:
    order = Order.objects.get(number="100001")
    ShipmentFactory(order=order, estimated_delivery=TODAY - timedelta(days=3))
    text = answer(customer, "delivery_estimate")
    assert "running late" in text and "18 Nov 2026" in text


def test_the_newest_fitting_order_is_used_when_none_is_named(customer: Customer) -> None:
    older = OrderFactory(
        customer=customer,
        number="100002",
        placed_at=timezone.now() - timedelta(days=40),
        status=Order.Status.RETURNED,
    )
    PaymentFactory(order=older, kind=Payment.Kind.REFUND, amount=Decimal("54.95"), method="paypal")
    text = answer(customer, "refund_status", "where is my refund?")
    assert "Order 100002: a refund of 54.95 USD to your PayPal account is paid out" in text


def test_another_customers_order_number_is_never_answered(
    customer: Customer, other_customer: Customer
) -> None:
    text = answer(customer, "order_status", "what's the status of order 200002")
    assert "200002" not in text and "Rain Jacket" not in text
    assert "can't find an order" in text


def test_return_window_counts_from_delivery(customer: Customer) -> None:
    PolicyFactory(key="returns", window_days=30)
    order = Order.objects.get(number="100001")
    order.status = Order.Status.DELIVERED
    order.save()
    ShipmentFactory(
        order=order,
        status="delivered",
        delivered_at=timezone.make_aware(datetime(2026, 11, 1, 12)),
    )
    assert "until 1 Dec 2026 (10 days left)" in answer(customer, "return_window")


def test_answers_come_in_the_shoppers_language(customer: Customer) -> None:
    ShipmentFactory(
        order=Order.objects.get(number="100001"),
        carrier="DPD",
        estimated_delivery=TODAY + timedelta(days=1),
    )
    german = answer(customer, "order_status", language="de")
    assert "Ihre Bestellung 100001" in german and "voraussichtlich am 22.11.2026" in german


def test_no_refund_yet_is_said_plainly(customer: Customer) -> None:
    assert "no refund on order 100001 yet" in answer(
        customer, "refund_status", "refund for 100001?"
    )


def test_the_verify_first_answer_names_the_widgets_link_as_the_widget_writes_it() -> None:
    widget = (
        Path(__file__).resolve().parents[2] / "support_bot/static/support_bot/widget.js"
    ).read_text()
    link = re.search(r"verifyLink: '([^']+)'", widget)
    assert link is not None
    for text in VERIFY_FIRST.values():
        assert link.group(1) in text
