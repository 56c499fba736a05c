"""Reading the shop's data."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from orders.models import Customer, Order, OrderLine, Shipment


def customer_get(*, external_id: str) -> Customer | None:
    return Customer.objects.filter(external_id=external_id).first()


def order_owner_for_verification(*, order_number: str, contact: str) -> Customer | None:
    """The order's customer if ``contact`` is the email or postal code on the order."""
    number = order_number.strip().lstrip("#")
    contact = contact.strip()
    if not number or not contact:
        return None
    order = (
        Order.objects.select_related("customer").filter(number__in={number, f"#{number}"}).first()
    )
    if order is None:
        return None
    customer = order.customer
    normalise = _postal
    if contact.casefold() == customer.email.casefold():
        return customer
    postcodes = {normalise(customer.postal_code), normalise(order.ship_postal_code)} - {""}
    return customer if normalise(contact) in postcodes else None


def _postal(code: str) -> str:
    return "".join(code.split()).upper()


def order_list_for_customer(*, customer_id: int, limit: int = 10) -> QuerySet[Order]:
    return (
        Order.objects.filter(customer_id=customer_id)
        .order_by("-placed_at")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch("shipments", queryset=Shipment.objects.order_by("id")),
            "payments",
        )[:limit]
    )
