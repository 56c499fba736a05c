"""Rendering an ``OrderContext`` as compact text within a token budget.

The text is built from whole facts, one per line (an order's heading, an item, a parcel,
a payment, an order's one-line summary), measured with ``orders.tokens.count_tokens`` as
they are added. A fact that does not fit is left out whole, never cut, so no id, number
or amount is ever truncated. How each fact is worded is ``orders.context.wording``'s.

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
from datetime import date

from django.utils import timezone

from orders.context.snapshot import OrderContext, OrderFact
from orders.context.wording import Wording
from orders.tokens import count_tokens

NO_ORDERS = "No orders."


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
    wording = Wording.for_orders(context.orders, context.today)
    text = _Text(context.budget_tokens)
    text.add(wording.legend())
    full = _full_orders(context, wording, text)
    # Named orders that did not fit in full lead the summaries.
    rest = {o.number: o for o in (*context.named_orders, *context.orders) if o.number not in full}
    left = context.order_count - len(full)
    summarised = _summaries(list(rest.values()), left, wording, text)
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
    wording = Wording.for_orders(orders, today or timezone.localdate())
    return "\n".join([*wording.legend(), *(fact for o in orders for fact in wording.full(o))])


def _full_orders(context: OrderContext, wording: Wording, text: _Text) -> list[str]:
    full: list[str] = []
    named = context.named_orders
    if named:
        text.add(wording.full(named[0]), force=True)
        full.append(named[0].number)
        for order in named[1:]:
            if text.add(wording.full(order)):
                full.append(order.number)
        return full
    for order in context.orders:
        # The newest order gets the whole budget, the next ones only half, so that a
        # shopper who asks about an older order finds it listed below.
        limit = context.budget_tokens if not full else context.budget_tokens // 2
        if not text.add(wording.full(order), limit=limit):
            break
        full.append(order.number)
    return full


def _summaries(orders: list[OrderFact], left: int, wording: Wording, text: _Text) -> list[str]:
    shown: list[str] = []
    for order in orders:
        facts = [wording.summary(order)]
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
