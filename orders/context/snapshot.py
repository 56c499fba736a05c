"""The frozen snapshot of a customer's orders that the model's context is rendered from.

Built from five queries (``order_list_for_context``); after that nothing
here touches the database, so prompt code can render, measure and re-render freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from orders.context.naming import mentioned_numbers, named_orders
from orders.selectors import order_list_for_context

DEFAULT_BUDGET_TOKENS = 300
# More orders than a few hundred tokens can ever list; older ones are only counted.
MAX_ORDERS = 100


@dataclass(frozen=True)
class LineFact:
    name: str
    options: tuple[tuple[str, str], ...]
    quantity: int
    unit_price: Decimal
    status: str
    line_id: str = ""


@dataclass(frozen=True)
class ShipmentFact:
    carrier: str
    tracking_numbers: tuple[str, ...]
    status: str
    estimated_delivery: date | None
    delivered_at: datetime | None
    line_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaymentFact:
    kind: str
    method: str
    amount: Decimal
    status: str
    method_detail: str = ""
    currency: str = ""


@dataclass(frozen=True)
class OrderFact:
    number: str
    status: str
    placed_at: datetime
    currency: str
    total: Decimal
    lines: tuple[LineFact, ...]
    shipments: tuple[ShipmentFact, ...]
    payments: tuple[PaymentFact, ...]
    subtotal: Decimal = Decimal("0")
    shipping_total: Decimal = Decimal("0")
    tax_total: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    # Where it went, to the city only: enough to tell two orders apart. No street, and no
    # postal code, which is what a shopper proves an order is theirs with.
    ship_city: str = ""


@dataclass(frozen=True)
class OrderContext:
    """What the model may know about one customer's orders for one message.

    ``orders`` are newest first; ``named`` holds the numbers of the orders the message
    refers to, most relevant first (always a subset of ``orders``).
    """

    customer_id: int
    orders: tuple[OrderFact, ...]
    named: tuple[str, ...]
    budget_tokens: int
    today: date
    # The customer's orders in all; more than len(orders) when the oldest were not loaded.
    order_count: int

    @property
    def named_orders(self) -> tuple[OrderFact, ...]:
        by_number = {order.number: order for order in self.orders}
        return tuple(by_number[number] for number in self.named)


def order_context_build(
    *,
    customer_id: int,
    message: str = "",
    budget_tokens: int | None = None,
    today: date | None = None,
) -> OrderContext:
    """Snapshot ``customer_id``'s orders for answering ``message``.

    Five queries whatever the number of orders. ``budget_tokens`` defaults to
    ``settings.ORDER_CONTEXT_TOKENS`` (300); ``today`` (for "late" parcels) to the
    local date. The message only chooses which of this customer's orders come first.
    """
    if budget_tokens is None:
        budget_tokens = int(getattr(settings, "ORDER_CONTEXT_TOKENS", DEFAULT_BUDGET_TOKENS))
    rows, order_count = order_list_for_context(
        customer_id=customer_id, numbers=mentioned_numbers(message), limit=MAX_ORDERS
    )
    # The selector puts orders named by exact number first; the context wants newest first.
    rows.sort(key=lambda order: (order["placed_at"], order["id"]), reverse=True)
    orders = tuple(order_fact(order) for order in rows)
    return OrderContext(
        customer_id=customer_id,
        orders=orders,
        named=named_orders(orders, message),
        budget_tokens=budget_tokens,
        today=today or timezone.localdate(),
        order_count=max(order_count, len(orders)),
    )


def order_fact(order: Mapping[str, Any]) -> OrderFact:
    """One order as plain values, from a row of ``order_list_for_context``."""
    return OrderFact(
        number=order["number"],
        status=order["status"],
        placed_at=order["placed_at"],
        currency=order["currency"],
        total=order["total"],
        lines=tuple(
            LineFact(
                name=line["product_name"],
                options=tuple((str(key), str(value)) for key, value in line["options"].items()),
                quantity=line["quantity"],
                unit_price=line["unit_price"],
                status=line["status"],
                line_id=line["line_id"],
            )
            for line in order["lines"]
        ),
        shipments=tuple(
            ShipmentFact(
                carrier=shipment["carrier"],
                tracking_numbers=tuple(str(number) for number in shipment["tracking_numbers"]),
                status=shipment["status"],
                estimated_delivery=shipment["estimated_delivery"],
                delivered_at=shipment["delivered_at"],
                line_ids=tuple(shipment["line_ids"]),
            )
            for shipment in order["shipments"]
        ),
        payments=tuple(
            PaymentFact(
                kind=payment["kind"],
                method=payment["method"],
                amount=payment["amount"],
                status=payment["status"],
                method_detail=payment["method_detail"],
                currency=payment["currency"],
            )
            for payment in order["payments"]
        ),
        subtotal=order["subtotal"],
        shipping_total=order["shipping_total"],
        tax_total=order["tax_total"],
        discount_total=order["discount_total"],
        ship_city=order["ship_city"],
    )
