"""What the model may know about a customer's orders, as compact text within a budget.

``order_context_build`` snapshots the customer's orders (five queries) and
notes which of them the shopper's message names; ``order_context_render`` turns the
snapshot into text of at most ``budget_tokens`` tokens, the named order first and whole.
Prompt code only ever sees the snapshot and the text, never ORM objects.
"""

from __future__ import annotations

from orders.context.render import (
    OrderContextRendering,
    order_context_render,
    order_context_rendering,
    render_full_orders,
)
from orders.context.snapshot import (
    LineFact,
    OrderContext,
    OrderFact,
    PaymentFact,
    ShipmentFact,
    order_context_build,
    order_fact,
)
from orders.selectors import order_list_for_context

__all__ = [
    "LineFact",
    "OrderContext",
    "OrderContextRendering",
    "OrderFact",
    "PaymentFact",
    "ShipmentFact",
    "order_context_build",
    "order_context_render",
    "order_context_rendering",
    "order_facts_for_customer",
    "render_orders",
]


def order_facts_for_customer(*, customer_id: int, limit: int = 3) -> tuple[OrderFact, ...]:
    """The customer's newest ``limit`` orders (kept for callers of the first version)."""
    orders, _ = order_list_for_context(customer_id=customer_id, limit=limit)
    return tuple(order_fact(order) for order in orders)


def render_orders(orders: tuple[OrderFact, ...]) -> str:
    """These orders in full, unbudgeted (kept for callers of the first version)."""
    return render_full_orders(orders)
