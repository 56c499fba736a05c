"""Reading the ledger and the registry for the cost report (conversations: ``conversations``).

Every ledger figure comes from one aggregate query, ``cost_rows``, grouped by day x
provider x model x tier; the page and the CSV both add up those rows, so they cannot
disagree. Days are calendar days in the project's ``TIME_ZONE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from routing.models import LLMCall, LLMModel, Provider

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)

Outcome = LLMCall.Outcome
ATTEMPTS = (Outcome.OK, Outcome.ERROR, Outcome.FALLBACK, Outcome.PARTIAL)
FAILED_ATTEMPTS = (Outcome.ERROR, Outcome.FALLBACK, Outcome.PARTIAL)
ANSWERED_WITHOUT_LLM = (Outcome.TIER0, Outcome.CACHE_HIT)
MONEY = {"cost", "avoided", "untokened"}
_Group = Mapping[str, Any]


def report_timezone() -> ZoneInfo:
    """The project's TIME_ZONE: finance's days, whatever timezone a request activated."""
    tz = timezone.get_default_timezone()
    assert isinstance(tz, ZoneInfo)
    return tz


def report_today() -> date:
    return timezone.localdate(timezone=report_timezone())


@dataclass(frozen=True)
class Period:
    """Calendar days ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=report_timezone())

    @property
    def until(self) -> datetime:
        """Exclusive: midnight after ``end`` (right across DST changes, unlike +24 h)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=report_timezone())

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class CostRow:
    """One day x provider x model x tier of the ledger, summed. Money is exact Decimal."""

    day: date
    provider: str
    model: str
    tier: int
    llm_calls: int
    failed_calls: int
    cache_hits: int
    tier0_answers: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    avoided_cost_usd: Decimal
    cache_avoided_usd: Decimal
    tier0_avoided_usd: Decimal
    # Avoided cost of cache hits and tier-0 answers that recorded no tokens: the premium
    # baseline falls back to it for those rows (see PremiumPrices.baseline_usd).
    untokened_avoided_usd: Decimal


def cost_rows(*, period: Period) -> list[CostRow]:
    """Every day x provider x model x tier group of the ledger in ``period``, in that order.

    One aggregate over an index-only scan of ``llmcall_report_cover_idx``. Outcome is a
    group key rather than a FILTER on each sum, which halves the work per row; the
    outcomes are folded together here, and sorted here too (see ``_hash_grouped``).
    """
    groups = (
        LLMCall.objects.filter(created_at__gte=period.since, created_at__lt=period.until)
        .annotate(day=TruncDate("created_at", tzinfo=report_timezone()))
        .values("day", "provider", "model", "tier", "outcome")
        .annotate(
            n=Count("*"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            cached=Sum("cached_tokens"),
            cost=Sum("cost_usd"),
            avoided=Sum("avoided_cost_usd"),
            untokened=Sum("avoided_cost_usd", filter=Q(prompt_tokens=0, completion_tokens=0)),
        )
        .order_by()
    )
    folded: dict[tuple[date, str, str, int], list[_Group]] = {}
    for group in _hash_grouped(groups):
        key = (group["day"], group["provider"], group["model"], group["tier"])
        folded.setdefault(key, []).append(group)
    return [_cost_row(key, folded[key]) for key in sorted(folded)]


def _hash_grouped(groups: QuerySet[Any, _Group]) -> list[_Group]:
    """Run a GROUP BY whose groups are few, hashing them.

    PostgreSQL has no statistics for a date expression, so it expects one group per
    row and would sort every row of the period to group them (spilling to disk at a
    million rows). The groups are at most days x models x tiers x outcomes, a few
    thousand: hashing them is several times faster, so sorting is ruled out for this
    one query. The setting is transaction-local and restored at once.
    """
    database = connections[groups.db]
    if database.vendor != "postgresql":
        return list(groups)
    with transaction.atomic(using=groups.db), database.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        rows = list(groups)
        cursor.execute("RESET enable_sort")
    return rows


def _cost_row(key: tuple[date, str, str, int], outcomes: list[_Group]) -> CostRow:
    """One CostRow from its per-outcome groups."""

    def total(field: str, *only: str) -> Any:
        picked = [g for g in outcomes if not only or g["outcome"] in only]
        return sum((g[field] or 0 for g in picked), ZERO if field in MONEY else 0)

    day, provider, model, tier = key
    return CostRow(
        day=day,
        provider=provider,
        model=model,
        tier=tier,
        llm_calls=total("n", *ATTEMPTS),
        failed_calls=total("n", *FAILED_ATTEMPTS),
        cache_hits=total("n", Outcome.CACHE_HIT),
        tier0_answers=total("n", Outcome.TIER0),
        prompt_tokens=total("prompt"),
        completion_tokens=total("completion"),
        cached_tokens=total("cached"),
        cost_usd=total("cost"),
        avoided_cost_usd=total("avoided"),
        cache_avoided_usd=total("avoided", Outcome.CACHE_HIT),
        tier0_avoided_usd=total("avoided", Outcome.TIER0),
        untokened_avoided_usd=total("untokened", *ANSWERED_WITHOUT_LLM),
    )


def registry_names() -> tuple[list[str], list[tuple[str, str]]]:
    """Provider names and (provider, model) names in the registry, enabled or not."""
    providers = list(Provider.objects.order_by("name").values_list("name", flat=True))
    models = list(
        LLMModel.objects.order_by("provider__name", "name").values_list("provider__name", "name")
    )
    return providers, models


@dataclass(frozen=True)
class PremiumPrices:
    """The highest input and output prices among enabled models (of enabled providers).

    They may belong to two different models; ``input_model`` and ``output_model`` say
    which, so the page can name them.
    """

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    input_model: str
    output_model: str

    def baseline_usd(self, row: CostRow) -> Decimal:
        """What ``row``'s traffic would have cost at these prices.

        prompt_tokens x max input price + completion_tokens x max output price, over every
        ledger row (failed attempts included: they were sent too); cached tokens get no
        discount. Cache hits and tier-0 answers that recorded no tokens count at their
        own avoided cost instead, as nothing else says how big they were.
        """
        tokens = (
            Decimal(row.prompt_tokens) * self.input_per_mtok
            + Decimal(row.completion_tokens) * self.output_per_mtok
        ) / MILLION
        return tokens + row.untokened_avoided_usd


def premium_prices() -> PremiumPrices | None:
    """None when no model is enabled: there is then no baseline to compare with."""
    enabled = LLMModel.objects.filter(enabled=True, provider__enabled=True).select_related(
        "provider"
    )
    top = enabled.aggregate(
        top_in=Max("input_price_per_mtok"), top_out=Max("output_price_per_mtok")
    )
    if top["top_in"] is None:
        return None
    by_input = enabled.filter(input_price_per_mtok=top["top_in"]).order_by("id").first()
    by_output = enabled.filter(output_price_per_mtok=top["top_out"]).order_by("id").first()
    return PremiumPrices(
        input_per_mtok=top["top_in"],
        output_per_mtok=top["top_out"],
        input_model=f"{by_input.provider.name} {by_input}" if by_input else "",
        output_model=f"{by_output.provider.name} {by_output}" if by_output else "",
    )


@dataclass(frozen=True)
class BudgetUse:
    day: date
    spent_usd: Decimal
    budget_usd: Decimal

    @property
    def percent(self) -> Decimal | None:
        return self.spent_usd / self.budget_usd * 100 if self.budget_usd else None


def budget_use_today() -> BudgetUse:
    """Today's whole spend (every provider: the budget is one), against DAILY_BUDGET_USD."""
    today = Period(report_today(), report_today())
    spent = LLMCall.objects.filter(
        created_at__gte=today.since, created_at__lt=today.until
    ).aggregate(spent=Sum("cost_usd"))["spent"]
    return BudgetUse(
        day=today.start, spent_usd=spent or ZERO, budget_usd=Decimal(settings.DAILY_BUDGET_USD)
    )
