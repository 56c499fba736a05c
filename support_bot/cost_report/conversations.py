"""Reading the cost report's conversation figures: volume, escalations, resolutions, CSAT.

Counted by when each thing happened in the period, from support_bot's own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, Sum

from routing.models import LLMCall
from support_bot.cost_report.selectors import ZERO, Period
from support_bot.models import Conversation, Message, Rating


@dataclass(frozen=True)
class ConversationFigures:
    """What shoppers did in the period: counted by when it happened, not by provider."""

    shopper_messages: int
    conversations: int
    escalations: int
    resolved_by_bot: int
    resolved_by_agent: int
    # The period's ledger cost (narrowed by provider, model and tier) of the conversations
    # resolved in the period.
    bot_resolved_cost_usd: Decimal
    agent_resolved_cost_usd: Decimal
    ratings: int
    rating_points: int


def conversation_figures(
    *, period: Period, provider: str = "", model: str = "", tier: int | None = None
) -> ConversationFigures:
    Resolution = Conversation.Resolution
    # One pass for all four counts: with no index on these dates, each count would scan
    # the whole table.
    counts = Conversation.objects.aggregate(
        started=Count("id", filter=_within("created_at", period)),
        escalated=Count("id", filter=_within("escalated_at", period)),
        by_bot=Count("id", filter=_within("resolved_at", period) & Q(resolution=Resolution.BOT)),
        by_agent=Count(
            "id", filter=_within("resolved_at", period) & Q(resolution=Resolution.AGENT)
        ),
    )
    ratings = Rating.objects.filter(_within("created_at", period)).aggregate(
        n=Count("id"), points=Sum("score")
    )
    costs = _resolved_conversation_costs(period=period, provider=provider, model=model, tier=tier)
    return ConversationFigures(
        shopper_messages=Message.objects.filter(
            _within("created_at", period), role=Message.Role.SHOPPER
        ).count(),
        conversations=counts["started"],
        escalations=counts["escalated"],
        resolved_by_bot=counts["by_bot"],
        resolved_by_agent=counts["by_agent"],
        bot_resolved_cost_usd=costs.get(Resolution.BOT, ZERO),
        agent_resolved_cost_usd=costs.get(Resolution.AGENT, ZERO),
        ratings=ratings["n"],
        rating_points=ratings["points"] or 0,
    )


def _within(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.since, f"{field}__lt": period.until})


def _resolved_conversation_costs(
    *, period: Period, provider: str, model: str, tier: int | None
) -> dict[str, Decimal]:
    """The period's ledger cost of the conversations resolved in it, by who resolved them.

    Only the period's calls count (a conversation that began before it loses its earlier
    ones): that keeps the join to the period's slice of the covering index, rather than
    every call the ledger ever recorded.
    """
    calls = LLMCall.objects.filter(
        _within("created_at", period),
        _within("conversation__resolved_at", period),
        conversation__resolution__in=[Conversation.Resolution.BOT, Conversation.Resolution.AGENT],
    )
    if provider:
        calls = calls.filter(provider=provider)
    if model:
        calls = calls.filter(model=model)
    if tier is not None:
        calls = calls.filter(tier=tier)
    groups = calls.values("conversation__resolution").annotate(cost=Sum("cost_usd")).order_by()
    return {group["conversation__resolution"]: group["cost"] or ZERO for group in groups}
