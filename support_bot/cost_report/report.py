"""Adding the ledger's grouped rows up into the report's totals and breakdowns.

Pure arithmetic on ``CostRow``: every figure on the page is a sum of the same rows the
CSV lists, in Decimal, so the two reconcile exactly. Rounding is the template's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from routing.models import Tier
from support_bot.cost_report.conversations import ConversationFigures
from support_bot.cost_report.filters import CostFilters
from support_bot.cost_report.selectors import ZERO, BudgetUse, CostRow, PremiumPrices

NO_LLM = "— (no LLM)"


@dataclass(frozen=True)
class Totals:
    llm_calls: int = 0
    failed_calls: int = 0
    cache_hits: int = 0
    tier0_answers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal = ZERO
    avoided_cost_usd: Decimal = ZERO
    cache_avoided_usd: Decimal = ZERO
    tier0_avoided_usd: Decimal = ZERO
    # None when no model is enabled, so there is no premium model to compare with.
    baseline_usd: Decimal | None = None

    @property
    def ledger_rows(self) -> int:
        return self.llm_calls + self.cache_hits + self.tier0_answers


def totals_of(rows: Iterable[CostRow], premium: PremiumPrices | None) -> Totals:
    rows = list(rows)
    return Totals(
        llm_calls=sum(r.llm_calls for r in rows),
        failed_calls=sum(r.failed_calls for r in rows),
        cache_hits=sum(r.cache_hits for r in rows),
        tier0_answers=sum(r.tier0_answers for r in rows),
        prompt_tokens=sum(r.prompt_tokens for r in rows),
        completion_tokens=sum(r.completion_tokens for r in rows),
        cached_tokens=sum(r.cached_tokens for r in rows),
        cost_usd=sum((r.cost_usd for r in rows), ZERO),
        avoided_cost_usd=sum((r.avoided_cost_usd for r in rows), ZERO),
        cache_avoided_usd=sum((r.cache_avoided_usd for r in rows), ZERO),
        tier0_avoided_usd=sum((r.tier0_avoided_usd for r in rows), ZERO),
        baseline_usd=(
            sum((premium.baseline_usd(r) for r in rows), ZERO) if premium is not None else None
        ),
    )


@dataclass(frozen=True)
class Line:
    """One line of a breakdown table."""

    key: str | int  # what the rows were grouped by: a provider, model or tier
    label: str
    totals: Totals
    share_pct: Decimal | None  # of the report's total cost; None when that is zero


@dataclass(frozen=True)
class DayLine:
    day: date
    totals: Totals
    cost_by_tier: dict[int, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class CostReport:
    filters: CostFilters
    rows: list[CostRow]
    totals: Totals
    by_day: list[DayLine]
    by_provider: list[Line]
    by_model: list[Line]
    by_tier: list[Line]
    conversations: ConversationFigures
    budget: BudgetUse
    premium: PremiumPrices | None

    @property
    def cost_per_conversation(self) -> Decimal | None:
        return _per(self.totals.cost_usd, self.conversations.conversations)

    @property
    def cost_per_bot_resolution(self) -> Decimal | None:
        c = self.conversations
        return _per(c.bot_resolved_cost_usd, c.resolved_by_bot)

    @property
    def cost_per_agent_resolution(self) -> Decimal | None:
        c = self.conversations
        return _per(c.agent_resolved_cost_usd, c.resolved_by_agent)

    @property
    def csat_average(self) -> Decimal | None:
        c = self.conversations
        return _per(Decimal(c.rating_points), c.ratings)

    @property
    def saving_usd(self) -> Decimal | None:
        baseline = self.totals.baseline_usd
        return None if baseline is None else baseline - self.totals.cost_usd

    @property
    def saving_pct(self) -> Decimal | None:
        baseline, saving = self.totals.baseline_usd, self.saving_usd
        if not baseline or saving is None:
            return None
        return saving / baseline * 100


def _per(amount: Decimal, count: int) -> Decimal | None:
    return amount / count if count else None


def cost_report_build(
    *,
    filters: CostFilters,
    rows: list[CostRow],
    conversations: ConversationFigures,
    budget: BudgetUse,
    premium: PremiumPrices | None,
) -> CostReport:
    """``rows`` are the filtered ledger rows: everything ledger-based derives from them."""
    totals = totals_of(rows, premium)
    return CostReport(
        filters=filters,
        rows=rows,
        totals=totals,
        by_day=_by_day(rows, filters, premium),
        by_provider=_lines(
            rows, totals, premium, key=lambda r: r.provider, label=lambda r: r.provider or NO_LLM
        ),
        by_model=_lines(
            rows, totals, premium, key=lambda r: f"{r.provider}/{r.model}", label=_model_label
        ),
        by_tier=_lines(
            rows,
            totals,
            premium,
            key=lambda r: r.tier,
            label=lambda r: Tier(r.tier).label,
            by_key=True,
        ),
        conversations=conversations,
        budget=budget,
        premium=premium,
    )


def _model_label(row: CostRow) -> str:
    return f"{row.provider} / {row.model}" if row.model else NO_LLM


def _by_day(
    rows: list[CostRow], filters: CostFilters, premium: PremiumPrices | None
) -> list[DayLine]:
    """Every day of the period, quiet days included, so the chart's time axis is honest."""
    per_day: dict[date, list[CostRow]] = {day: [] for day in filters.period.days}
    for row in rows:
        per_day.setdefault(row.day, []).append(row)
    lines = []
    for day, day_rows in sorted(per_day.items()):
        by_tier: dict[int, Decimal] = {}
        for row in day_rows:
            by_tier[row.tier] = by_tier.get(row.tier, ZERO) + row.cost_usd
        lines.append(DayLine(day=day, totals=totals_of(day_rows, premium), cost_by_tier=by_tier))
    return lines


def _lines(
    rows: list[CostRow],
    totals: Totals,
    premium: PremiumPrices | None,
    *,
    key: Callable[[CostRow], str | int],
    label: Callable[[CostRow], str],
    by_key: bool = False,
) -> list[Line]:
    """Rows grouped by ``key``, the costliest first (or in key order)."""
    groups: dict[str | int, list[CostRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    lines = []
    for group_key, group in groups.items():
        group_totals = totals_of(group, premium)
        share = group_totals.cost_usd / totals.cost_usd * 100 if totals.cost_usd else None
        lines.append(Line(group_key, label(group[0]), group_totals, share))
    if by_key:
        return sorted(lines, key=lambda line: str(line.key))
    return sorted(lines, key=lambda line: (-line.totals.cost_usd, line.label))
