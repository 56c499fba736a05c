"""The report's GET filters: parsed leniently, since a finance URL is often hand-edited.

A bad value never fails the request: it is named in a message and replaced by its
default, so the page still answers with figures it states plainly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.http import QueryDict

from routing.models import Tier
from support_bot.cost_report.selectors import CostRow, Period

DEFAULT_DAYS = 30
MAX_DAYS = 366


def default_period(today: date) -> Period:
    """The last 30 days, today included."""
    return Period(start=today - timedelta(days=DEFAULT_DAYS - 1), end=today)


@dataclass(frozen=True)
class CostFilters:
    period: Period
    provider: str = ""
    model: str = ""
    tier: int | None = None

    def matches(self, row: CostRow) -> bool:
        # Provider, model and tier are the ledger query's group keys, so narrowing its
        # rows here gives exactly what a WHERE clause would.
        return (
            (not self.provider or row.provider == self.provider)
            and (not self.model or row.model == self.model)
            and (self.tier is None or row.tier == self.tier)
        )

    @property
    def narrowed(self) -> bool:
        return bool(self.provider or self.model or self.tier is not None)

    def querystring(self) -> str:
        params: dict[str, str] = {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
        }
        if self.provider:
            params["provider"] = self.provider
        if self.model:
            params["model"] = self.model
        if self.tier is not None:
            params["tier"] = str(self.tier)
        return urlencode(params)


def period_parse(query: QueryDict, *, today: date) -> tuple[Period, list[str]]:
    """The date range asked for, or the last 30 days with the reason why not."""
    fallback = default_period(today)
    start, start_problem = _date(query.get("start", ""), "start")
    end, end_problem = _date(query.get("end", ""), "end")
    problems = " ".join(p for p in (start_problem, end_problem) if p)
    if problems:
        return fallback, [f"{problems} Showing the last {DEFAULT_DAYS} days instead."]
    if start is None and end is None:
        return fallback, []
    if end is None:
        end = today if start is None or start <= today else start
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        return fallback, [
            f"The start date ({start}) is after the end date ({end}); "
            f"showing the last {DEFAULT_DAYS} days instead."
        ]
    if (end - start).days + 1 > MAX_DAYS:
        return fallback, [
            f"The report covers at most {MAX_DAYS} days at a time; "
            f"showing the last {DEFAULT_DAYS} days instead."
        ]
    return Period(start=start, end=end), []


def _date(value: str, name: str) -> tuple[date | None, str]:
    value = value.strip()
    if not value:
        return None, ""
    try:
        return date.fromisoformat(value), ""
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        return None, f"The {name} date “{shown}” is not a date like 2025-01-31."


def filters_parse(
    query: QueryDict,
    *,
    period: Period,
    providers: Iterable[str],
    models: Iterable[str],
) -> tuple[CostFilters, list[str]]:
    """Provider, model and tier, each checked against what exists; unknown ones are dropped.

    ``providers`` and ``models`` are the names the user could have picked: the
    registry's and every name the ledger holds for the period.
    """
    problems: list[str] = []
    provider = query.get("provider", "").strip()
    if provider and provider not in set(providers):
        problems.append(f"There is no provider “{provider[:60]}”; showing all providers.")
        provider = ""
    model = query.get("model", "").strip()
    if model and model not in set(models):
        problems.append(f"There is no model “{model[:100]}”; showing all models.")
        model = ""
    tier, tier_problem = _tier(query.get("tier", "").strip())
    if tier_problem:
        problems.append(tier_problem)
    return CostFilters(period=period, provider=provider, model=model, tier=tier), problems


def _tier(value: str) -> tuple[int | None, str]:
    if not value:
        return None, ""
    if value in {str(tier) for tier in Tier.values}:
        return int(value), ""
    allowed = ", ".join(str(t) for t in Tier.values)
    return None, f"The tier must be one of {allowed}; showing all tiers."
