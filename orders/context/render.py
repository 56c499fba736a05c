"""Rendering an ``OrderContext`` as compact text within a token budget.

The text is built from whole facts, one per line (an order's heading, an item, a parcel,
a payment, an order's one-line summary), measured with ``orders.tokens.count_tokens`` as
they are added. A fact that does not fit is left out whole, never cut, so no id, number
or amount is ever truncated. Words rather than abbreviations: the WordPiece tokenizer
(and a small model) reads "delivered" as one token and "dlv" as two.

Priority, highest first:
1. the legend line and the first order the message names, in full: always, even when
   they alone exceed the budget (a shopper asking about an order must get its facts);
2. other named orders in full; or, when nothing is named, the newest orders in full,
   the first while it fits the budget and more while they fit half of it, so that the
   rest can still be listed;
3. every other order as a one-line summary, newest first, then how many are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone

from orders.context.snapshot import LineFact, OrderContext, OrderFact, PaymentFact, ShipmentFact
from orders.models import Order, OrderLine, Payment, Shipment
from orders.tokens import count_tokens

NO_ORDERS = "No orders."
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
# Values that say what they are ("black", "leather"); "size 8" needs its key.
_SELF_NAMING_OPTIONS = frozenset({"color", "colour", "material"})
_METHODS = {str(value): str(label) for value, label in Payment.Method.choices}


@dataclass(frozen=True)
class OrderContextRendering:
    text: str
    tokens: int
    full: tuple[str, ...]  # numbers of the orders shown in full, in the order shown
    summarised: tuple[str, ...]
    left_out: int  # orders not mentioned at all
    over_budget: bool  # only when the named order alone did not fit


def order_context_render(context: OrderContext) -> str:
    """The text the model sees about the customer's orders (see ``order_context_rendering``)."""
    return order_context_rendering(context).text


def order_context_rendering(context: OrderContext) -> OrderContextRendering:
    """Render ``context`` within ``context.budget_tokens``, in whole facts.

    The first named order's facts are never dropped: if they alone exceed the budget they
    are rendered anyway (and ``over_budget`` says so), and nothing else is added.
    """
    if not context.orders:
        return OrderContextRendering(NO_ORDERS, count_tokens(NO_ORDERS), (), (), 0, False)
    style = _Style.for_orders(context.orders, context.today)
    text = _Text(context.budget_tokens)
    text.add(style.legend())
    full = _full_orders(context, style, text)
    # Named orders that did not fit in full lead the summaries.
    rest = {o.number: o for o in (*context.named_orders, *context.orders) if o.number not in full}
    left = context.order_count - len(full)
    summarised = _summaries(list(rest.values()), left, style, text, after_full=bool(full))
    return OrderContextRendering(
        text="\n".join(text.lines),
        tokens=count_tokens("\n".join(text.lines)),
        full=tuple(full),
        summarised=tuple(summarised),
        left_out=context.order_count - len(full) - len(summarised),
        over_budget=text.tokens > context.budget_tokens,
    )


def render_full_orders(orders: Sequence[OrderFact], *, today: date | None = None) -> str:
    """Every order in full with the legend, whatever its length (no budget)."""
    if not orders:
        return NO_ORDERS
    style = _Style.for_orders(orders, today or timezone.localdate())
    return "\n".join([*style.legend(), *(fact for o in orders for fact in style.full(o))])


def _full_orders(context: OrderContext, style: _Style, text: _Text) -> list[str]:
    full: list[str] = []
    named = context.named_orders
    if named:
        text.add(style.full(named[0]), force=True)
        full.append(named[0].number)
        for order in named[1:]:
            if text.add(style.full(order)):
                full.append(order.number)
        return full
    for order in context.orders:
        # The newest order gets the whole budget, the next ones only half, so that a
        # shopper who asks about an older order finds it listed below.
        limit = context.budget_tokens if not full else context.budget_tokens // 2
        if not text.add(style.full(order), limit=limit):
            break
        full.append(order.number)
    return full


def _summaries(
    orders: list[OrderFact], left: int, style: _Style, text: _Text, *, after_full: bool
) -> list[str]:
    shown: list[str] = []
    for order in orders:
        heading = ["Other orders:"] if after_full and not shown else []
        facts = [*heading, style.summary(order)]
        after = left - len(shown) - 1
        # Room for the closing count stays reserved, so the model always learns of it.
        reserve = text.cost([_left_out(after)]) if after else 0
        if not text.fits(facts, extra=reserve):
            break
        text.add(facts)
        shown.append(order.number)
    if left - len(shown) > 0:
        text.add([_left_out(left - len(shown))])
    return shown


def _left_out(count: int) -> str:
    return f"{count} other order{'s' if count != 1 else ''} not listed."


class _Text:
    """Lines of text and their token count, growing only by facts that fit."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.lines: list[str] = []
        self.tokens = 0

    def cost(self, facts: Sequence[str]) -> int:
        # The tokenizer splits on whitespace, so lines cost the same apart as joined.
        return sum(count_tokens(fact) for fact in facts)

    def fits(self, facts: Sequence[str], *, limit: int | None = None, extra: int = 0) -> bool:
        return self.tokens + self.cost(facts) + extra <= (self.budget if limit is None else limit)

    def add(self, facts: Sequence[str], *, force: bool = False, limit: int | None = None) -> bool:
        if not force and not self.fits(facts, limit=limit):
            return False
        self.lines.extend(facts)
        self.tokens += self.cost(facts)
        return True


@dataclass(frozen=True)
class _Style:
    """How facts are written: one currency stated once when all orders share it."""

    currency: str | None
    today: date

    @classmethod
    def for_orders(cls, orders: Sequence[OrderFact], today: date) -> _Style:
        currencies = {order.currency for order in orders}
        return cls(currency=currencies.pop() if len(currencies) == 1 else None, today=today)

    def legend(self) -> list[str]:
        # With several currencies every amount carries its own, and no legend is needed.
        return [f"Amounts in {self.currency}."] if self.currency else []

    def money(self, amount: Decimal, currency: str) -> str:
        text = f"{amount:.2f}"
        return text if currency == self.currency else f"{text} {currency}"

    def heading(self, order: OrderFact) -> str:
        placed = _day(order.placed_at).isoformat()
        return (
            f"Order {order.number} {_label(order.status)}, placed {placed}, "
            f"total {self.money(order.total, order.currency)}"
        )

    def full(self, order: OrderFact) -> list[str]:
        heading = self.heading(order) + self.total_parts(order)
        place = f"{order.ship_city} {order.ship_postal_code}".strip()
        heading += f", to {place}" if place else ""
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
        options = ", ".join(
            value if key.lower() in _SELF_NAMING_OPTIONS else f"{key} {value}"
            for key, value in line.options
        )
        text = f"{quantity}{line.name}" + (f" ({options})" if options else "")
        text += f" {self.money(line.unit_price, order.currency)}"
        text += " each" if line.quantity != 1 else ""
        if _EXPECTED_LINE_STATUS.get(order.status) != line.status:
            text += f", {_label(line.status)}"
        return text

    def shipment(self, order: OrderFact, shipment: ShipmentFact) -> str:
        tracking = ", ".join(shipment.tracking_numbers) or "no tracking number"
        text = f"parcel {shipment.carrier} {tracking} {_label(shipment.status)}"
        if shipment.delivered_at is not None:
            text += f" {_day(shipment.delivered_at).isoformat()}"
        elif shipment.estimated_delivery is not None:
            text += f", ETA {shipment.estimated_delivery.isoformat()}"
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
        # "in full" is both shorter and plainer than repeating the total.
        currency = payment.currency or order.currency
        in_full = payment.amount == order.total and currency == order.currency
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
