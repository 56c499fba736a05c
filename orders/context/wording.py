"""How each fact about an order is written: one line per fact, in as few tokens as reads well.

Measured with the MiniLM WordPiece tokenizer (``orders.tokens``), which splits on spaces
and punctuation and breaks numbers and ids into pieces. So: words rather than
abbreviations ("delivered" is one token, "dlv" two); dates as "5 May 2025" (four tokens,
"2025-05-05" is six), the year left out inside an order when it is the order's own;
no label that the value already says ("500ml", "Brand A", "black"); no status word an
order's status already implies; one currency for all amounts when the orders share it.
Ids, numbers and amounts are always written whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from orders.context.snapshot import LineFact, OrderFact, PaymentFact, ShipmentFact
from orders.models import Order, OrderLine, Payment, Shipment

INDENT = "  "
SUMMARY_ITEMS = 3
SUMMARY_NAME_CHARS = 24
# An item whose status is what its order's status implies is not marked (one token each).
_EXPECTED_LINE_STATUS: dict[str, str] = {
    Order.Status.PENDING: OrderLine.Status.ORDERED,
    Order.Status.PROCESSING: OrderLine.Status.ORDERED,
    Order.Status.SHIPPED: OrderLine.Status.SHIPPED,
    Order.Status.DELIVERED: OrderLine.Status.DELIVERED,
    Order.Status.CANCELLED: OrderLine.Status.CANCELLED,
    Order.Status.RETURNED: OrderLine.Status.RETURNED,
    Order.Status.EXCHANGED: OrderLine.Status.EXCHANGED,
}
# Likewise a parcel of a shipped order that is on its way: "due 3 Jul" says so.
_EXPECTED_SHIPMENT_STATUS: dict[str, str] = {Order.Status.SHIPPED: Shipment.Status.IN_TRANSIT}
_NOT_YET_DELIVERED = frozenset(
    {
        Shipment.Status.LABEL_CREATED,
        Shipment.Status.IN_TRANSIT,
        Shipment.Status.OUT_FOR_DELIVERY,
        Shipment.Status.EXCEPTION,
    }
)
_LABELS: dict[str, str] = {
    **{str(value): str(label).lower() for value, label in OrderLine.Status.choices},
    **{str(value): str(label).lower() for value, label in Order.Status.choices},
    **{str(value): str(label).lower() for value, label in Shipment.Status.choices},
}
# Options whose values say what they are ("black", "leather"); "size 8" needs its key.
_SELF_NAMING_OPTIONS = frozenset({"color", "colour", "material"})
_WORDS = re.compile(r"[a-z]+")
# A number and its unit: "500ml", "1.5 liters", "15-inch", "30-50 lbs", "1TB SSD".
_MEASURE = re.compile(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?[ -]?([A-Za-z]+)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_METHODS = {str(value): str(label) for value, label in Payment.Method.choices}


@dataclass(frozen=True)
class Wording:
    """How facts are written: one currency stated once when all orders share it, and
    ``today`` to tell a late parcel."""

    currency: str | None
    today: date

    @classmethod
    def for_orders(cls, orders: Sequence[OrderFact], today: date) -> Wording:
        currencies = {order.currency for order in orders}
        return cls(currency=currencies.pop() if len(currencies) == 1 else None, today=today)

    def legend(self) -> list[str]:
        # With several currencies every amount carries its own, and no legend is needed.
        return [f"Currency {self.currency}"] if self.currency else []

    def money(self, amount: Decimal, currency: str) -> str:
        text = f"{amount:.2f}"
        return text if currency == self.currency else f"{text} {currency}"

    def heading(self, order: OrderFact) -> str:
        placed = _date_text(_day(order.placed_at))
        return (
            f"Order {order.number} {_label(order.status)}, placed {placed}, "
            f"total {self.money(order.total, order.currency)}"
        )

    def full(self, order: OrderFact) -> list[str]:
        heading = self.heading(order) + self.total_parts(order)
        heading += f", to {order.ship_city}" if order.ship_city else ""
        return [
            heading,
            *(INDENT + self.line(order, line) for line in order.lines),
            *(INDENT + self.shipment(order, shipment) for shipment in order.shipments),
            *(INDENT + self.payment(order, payment) for payment in order.payments),
        ]

    def total_parts(self, order: OrderFact) -> str:
        parts = [
            f"{sign} {name} {self.money(amount, order.currency)}"
            for sign, name, amount in (
                ("+", "shipping", order.shipping_total),
                ("+", "tax", order.tax_total),
                ("-", "discount", order.discount_total),
            )
            if amount
        ]
        if not parts:
            return ""
        return f" = items {self.money(order.subtotal, order.currency)} " + " ".join(parts)

    def line(self, order: OrderFact, line: LineFact) -> str:
        quantity = f"{line.quantity}x " if line.quantity != 1 else ""
        options = ", ".join(_options(line.options))
        text = f"{quantity}{line.name}" + (f" ({options})" if options else "")
        text += f" {self.money(line.unit_price, order.currency)}"
        text += " each" if line.quantity != 1 else ""
        if _EXPECTED_LINE_STATUS.get(order.status) != line.status:
            text += f", {_label(line.status)}"
        return text

    def shipment(self, order: OrderFact, shipment: ShipmentFact) -> str:
        tracking = ", ".join(shipment.tracking_numbers) or "no tracking number"
        text = f"parcel {shipment.carrier} {tracking}"
        said = _EXPECTED_SHIPMENT_STATUS.get(order.status) != shipment.status
        text += f" {_label(shipment.status)}" if said else ""
        # The year is the order's unless said: "placed 5 May 2025 ... delivered 12 May".
        year = _day(order.placed_at).year
        if shipment.delivered_at is not None:
            text += f" {_date_text(_day(shipment.delivered_at), year=year)}"
        elif shipment.estimated_delivery is not None:
            due = _date_text(shipment.estimated_delivery, year=year)
            text += f"{',' if said else ''} due {due}"
            text += ", late" if self.late(shipment) else ""
        if len(order.shipments) > 1:
            names = {line.line_id: line.name for line in order.lines}
            carried = [names[i] for i in shipment.line_ids if i in names]
            text += f"; has {', '.join(carried)}" if carried else ""
        return text

    def late(self, shipment: ShipmentFact) -> bool:
        eta = shipment.estimated_delivery
        return (
            eta is not None
            and eta < self.today
            and shipment.delivered_at is None
            and shipment.status in _NOT_YET_DELIVERED
        )

    def payment(self, order: OrderFact, payment: PaymentFact) -> str:
        refund = payment.kind == Payment.Kind.REFUND
        succeeded = payment.status == Payment.Status.SUCCEEDED
        if succeeded:
            what = "refunded" if refund else "paid"
        else:
            what = f"{'refund' if refund else 'payment'} {payment.status}"
        # "in full" is both shorter and plainer than repeating the total; and a payment
        # that went through with no amount is plainly the whole total ("paid by PayPal").
        currency = payment.currency or order.currency
        in_full = payment.amount == order.total and currency == order.currency
        if in_full and succeeded and not refund:
            return f"paid by {_method(payment)}"
        amount = "in full" if in_full else self.money(payment.amount, currency)
        return f"{what} {amount} {'to' if refund else 'by'} {_method(payment)}"

    def summary(self, order: OrderFact) -> str:
        names = list(dict.fromkeys(_short(line.name) for line in order.lines))
        items = ", ".join(names[:SUMMARY_ITEMS])
        more = len(names) - SUMMARY_ITEMS
        items += f" +{more} more" if more > 0 else ""
        late = ", parcel late" if any(self.late(s) for s in order.shipments) else ""
        return f"{self.heading(order)}{late}: {items}"


def _day(moment: datetime) -> date:
    return timezone.localtime(moment).date()


def _date_text(day: date, *, year: int | None = None) -> str:
    """The day as "24 Nov 2024", or "24 Nov" if it is in ``year``.

    Four tokens, or two, where "2024-11-24" is six, and no reader takes it for 11 April.
    The month names are fixed so that the server's locale cannot change the prompt.
    """
    month = _MONTHS[day.month - 1]
    return f"{day.day} {month}" if day.year == year else f"{day.day} {month} {day.year}"


def _options(options: Sequence[tuple[str, str]]) -> list[str]:
    """Each option as "size 8", or as its value alone where that says what it is."""
    units = [_unit(value) for _, value in options]
    return [
        value if _names_itself(key, value, unit, units) else f"{key} {value}"
        for (key, value), unit in zip(options, units, strict=True)
    ]


def _names_itself(key: str, value: str, unit: str, units: list[str]) -> bool:
    """Whether ``value`` needs no ``key``: "black", "Brand A" (brand), "full size" (size),
    or a measure, by its unit ("500ml"), unless another option of the item has the same
    unit ("ram 16GB, storage 512GB SSD")."""
    if key.lower() in _SELF_NAMING_OPTIONS:
        return True
    if set(_WORDS.findall(key.lower())) & set(_WORDS.findall(value.lower())):
        return True
    return bool(unit) and units.count(unit) == 1


def _unit(value: str) -> str:
    match = _MEASURE.match(value)
    return match.group(1).lower() if match else ""


def _label(status: str) -> str:
    return _LABELS.get(status, status.replace("_", " "))


def _method(payment: PaymentFact) -> str:
    label = _METHODS.get(payment.method, payment.method.replace("_", " "))
    detail = payment.method_detail.strip()
    if not detail:
        return label
    # "gift_card_1725971" already says gift card; "Visa ending 4242" does not say card.
    if payment.method.replace("_", " ") in detail.lower().replace("_", " "):
        return detail
    return f"{label} ({detail})"


def _short(name: str) -> str:
    """A product name cut at a word boundary; names are words, never ids or amounts."""
    if len(name) <= SUMMARY_NAME_CHARS or " " not in name[:SUMMARY_NAME_CHARS]:
        return name
    return name[:SUMMARY_NAME_CHARS].rsplit(" ", 1)[0]
