"""The customer's orders as plain text for the model.

A first, plain version: the most recent orders in full. Built from one prefetching
query into frozen dataclasses, then rendered; prompt code never touches the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from orders.selectors import order_list_for_customer


@dataclass(frozen=True)
class LineFact:
    name: str
    options: tuple[tuple[str, str], ...]
    quantity: int
    unit_price: Decimal
    status: str


@dataclass(frozen=True)
class ShipmentFact:
    carrier: str
    tracking_numbers: tuple[str, ...]
    status: str
    estimated_delivery: date | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class PaymentFact:
    kind: str
    method: str
    amount: Decimal
    status: str


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


def order_facts_for_customer(*, customer_id: int, limit: int = 3) -> tuple[OrderFact, ...]:
    return tuple(
        OrderFact(
            number=order.number,
            status=order.status,
            placed_at=order.placed_at,
            currency=order.currency,
            total=order.total,
            lines=tuple(
                LineFact(
                    name=line.product_name,
                    options=tuple((str(k), str(v)) for k, v in line.options.items()),
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    status=line.status,
                )
                for line in order.lines.all()
            ),
            shipments=tuple(
                ShipmentFact(
                    carrier=s.carrier,
                    tracking_numbers=tuple(s.tracking_numbers),
                    status=s.status,
                    estimated_delivery=s.estimated_delivery,
                    delivered_at=s.delivered_at,
                )
                for s in order.shipments.all()
            ),
            payments=tuple(
                PaymentFact(kind=p.kind, method=p.method, amount=p.amount, status=p.status)
                for p in order.payments.all()
            ),
        )
        for order in order_list_for_customer(customer_id=customer_id, limit=limit)
    )


def render_orders(orders: tuple[OrderFact, ...]) -> str:
    if not orders:
        return "No orders."
    return "\n".join(_render_order(order) for order in orders)


def _render_order(order: OrderFact) -> str:
    lines = "; ".join(
        f"{line.quantity}x {line.name}"
        + (f" ({', '.join(f'{k} {v}' for k, v in line.options)})" if line.options else "")
        + f" {line.unit_price} {order.currency}"
        + ("" if line.status == "ordered" else f" [{line.status}]")
        for line in order.lines
    )
    parts = [
        f"Order {order.number}: {order.status}, placed {order.placed_at:%Y-%m-%d}, "
        f"total {order.total} {order.currency}. Items: {lines}."
    ]
    for shipment in order.shipments:
        eta = (
            f"delivered {shipment.delivered_at:%Y-%m-%d}"
            if shipment.delivered_at
            else f"ETA {shipment.estimated_delivery}"
            if shipment.estimated_delivery
            else "no ETA"
        )
        parts.append(
            f"  Parcel {shipment.carrier} {' '.join(shipment.tracking_numbers)}: "
            f"{shipment.status}, {eta}."
        )
    for payment in order.payments:
        parts.append(
            f"  {payment.kind} {payment.amount} {order.currency} by {payment.method}: {payment.status}."
        )
    return "\n".join(parts)
