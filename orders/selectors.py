"""Reading the shop's data."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import Case, Count, F, Value, When, Window

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


# What the model's context and tier-0 answers read of an order and the records under it,
# as ``values()`` rows: both are read on a reply's critical path, and model instances with
# their prefetch bookkeeping cost three times the queries themselves.
_READ_ORDER_FIELDS = (
    "id",
    "number",
    "status",
    "placed_at",
    "currency",
    "total",
    "subtotal",
    "shipping_total",
    "tax_total",
    "discount_total",
    "ship_city",
)
_READ_LINE_FIELDS = (
    "id",
    "order_id",
    "line_id",
    "product_name",
    "options",
    "quantity",
    "unit_price",
    "status",
)
_READ_SHIPMENT_FIELDS = (
    "id",
    "order_id",
    "carrier",
    "tracking_numbers",
    "status",
    "estimated_delivery",
    "delivered_at",
)
_READ_PAYMENT_FIELDS = (
    "order_id",
    "kind",
    "method",
    "method_detail",
    "amount",
    "currency",
    "status",
    "created_at",
)


def order_list_for_context(
    *, customer_id: int, numbers: Collection[str] = (), limit: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """The customer's orders for the model's context, and how many orders they have in all.

    The newest ``limit`` orders, preceded by any of theirs whose number is in ``numbers``
    (an old order the shopper names is loaded even beyond ``limit``), each a dict of its
    fields with its ``lines``, ``shipments`` (each with the ``line_ids`` it carries) and
    ``payments``: five queries, however many orders. Only this customer's orders are ever
    read, whatever ``numbers`` holds.
    """
    orders = list(
        Order.objects.filter(customer_id=customer_id)
        .annotate(
            # Counted in the same query so that "N other orders not listed" costs nothing.
            order_count=Window(Count("id")),
            named=Case(When(number__in=list(numbers), then=Value(1)), default=Value(0)),
        )
        .order_by("-named", "-placed_at", "-id")
        .values(*_READ_ORDER_FIELDS, "order_count", "named")[:limit]
    )
    if not orders:
        return [], 0
    return _with_records(orders, lines=True), int(orders[0]["order_count"])


def order_list_for_answers(*, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The customer's newest ``limit`` orders for a tier-0 answer, newest first: each a
    dict of its fields with its ``shipments`` and ``payments`` (three queries)."""
    orders = list(
        Order.objects.filter(customer_id=customer_id)
        .order_by("-placed_at", "-id")
        .values(*_READ_ORDER_FIELDS)[:limit]
    )
    return _with_records(orders, lines=False)


def _with_records(orders: list[dict[str, Any]], *, lines: bool) -> list[dict[str, Any]]:
    """``orders`` (``values()`` rows) with their shipments and payments attached, and
    their lines (and the line ids each shipment carries) if asked for."""
    if not orders:
        return orders
    by_id = {order["id"]: order for order in orders}
    for order in orders:
        order.update(lines=[], shipments=[], payments=[])
    ids = list(by_id)
    if lines:
        for line in (
            OrderLine.objects.filter(order_id__in=ids).order_by("id").values(*_READ_LINE_FIELDS)
        ):
            by_id[line["order_id"]]["lines"].append(line)
    shipments = {}
    for shipment in (
        Shipment.objects.filter(order_id__in=ids)
        .order_by(F("shipped_at").asc(nulls_last=True), "id")
        .values(*_READ_SHIPMENT_FIELDS)
    ):
        shipment["line_ids"] = []
        shipments[shipment["id"]] = shipment
        by_id[shipment["order_id"]]["shipments"].append(shipment)
    if lines and shipments:
        carried = (
            Shipment.lines.through.objects.filter(shipment_id__in=list(shipments))
            .order_by("orderline_id")
            .values_list("shipment_id", "orderline__line_id")
        )
        for shipment_id, line_id in carried:
            shipments[shipment_id]["line_ids"].append(line_id)
    for payment in (
        Payment.objects.filter(order_id__in=ids)
        .order_by("created_at", "id")
        .values(*_READ_PAYMENT_FIELDS)
    ):
        by_id[payment["order_id"]]["payments"].append(payment)
    return orders
