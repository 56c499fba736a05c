"""Reading the shop's data."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Case, Count, F, Prefetch, QuerySet, Value, When, Window

from orders.models import Customer, Order, OrderLine, Payment, Shipment


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


def order_list_for_context(
    *, customer_id: int, numbers: Collection[str] = (), limit: int = 100
) -> tuple[list[Order], int]:
    """The customer's orders for the model's context, and how many orders they have in all.

    The newest ``limit`` orders, preceded by any of theirs whose number is in ``numbers``
    (an old order the shopper names is loaded even beyond ``limit``), each with its lines,
    parcels (and the lines they carry) and payments: five queries, however many orders.
    Only this customer's orders are ever read, whatever ``numbers`` holds.
    """
    orders = Order.objects.filter(customer_id=customer_id).annotate(
        # Counted in the same query so that "N other orders not listed" costs nothing extra.
        order_count=Window(Count("id")),
        named=Case(When(number__in=list(numbers), then=Value(1)), default=Value(0)),
    )
    shipment_lines = Prefetch("lines", queryset=OrderLine.objects.only("id", "line_id"))
    rows: list[Order] = list(
        orders.order_by("-named", "-placed_at", "-id").prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            Prefetch(
                "shipments",
                queryset=Shipment.objects.order_by(
                    F("shipped_at").asc(nulls_last=True), "id"
                ).prefetch_related(shipment_lines),
            ),
            Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
        )[:limit]
    )
    total = int(getattr(rows[0], "order_count", len(rows))) if rows else 0
    return rows, total
