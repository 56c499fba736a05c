"""The cost report's page and its CSV, in the admin, for staff with ``routing.view_cost_report``.

Both are wrapped in ``admin.site.admin_view`` (see ``urls``): anonymous visitors go to the
admin login; staff without the permission get 403 here. Both read the ledger through
the same ``_ledger_rows``, so the CSV holds exactly the page's numbers.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from routing.models import Tier
from support_bot.cost_report.charts import daily_cost_chart, savings_chart, tier_cost_chart
from support_bot.cost_report.conversations import conversation_figures
from support_bot.cost_report.filters import CostFilters, filters_parse, period_parse
from support_bot.cost_report.report import cost_report_build
from support_bot.cost_report.selectors import (
    CostRow,
    PremiumPrices,
    budget_use_today,
    cost_rows,
    premium_prices,
    registry_names,
    report_timezone,
    report_today,
)

PERMISSION = "routing.view_cost_report"
CSV_COLUMNS = (
    "date",
    "provider",
    "model",
    "tier",
    "calls",
    "failed_calls",
    "cache_hits",
    "tier0_answers",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_usd",
    "avoided_cost_usd",
    "cache_avoided_usd",
    "tier0_avoided_usd",
    "premium_baseline_usd",
)


@dataclass(frozen=True)
class LedgerRows:
    filters: CostFilters
    rows: list[CostRow]
    problems: list[str]
    providers: list[str]
    models: list[tuple[str, str]]  # (provider, model), for the filter form


def _ledger_rows(request: HttpRequest) -> LedgerRows:
    """The filtered ledger rows for this request's GET filters; bad filters say why."""
    period, problems = period_parse(request.GET, today=report_today())
    rows = cost_rows(period=period)
    registry_providers, registry_models = registry_names()
    # The form offers every name the period's ledger holds, plus the registry's: a model
    # removed from the registry still has history, a new one has none yet.
    providers = sorted({*registry_providers, *(r.provider for r in rows if r.provider)})
    models = sorted({*registry_models, *((r.provider, r.model) for r in rows if r.model)})
    filters, more = filters_parse(
        request.GET, period=period, providers=providers, models=[m for _, m in models]
    )
    return LedgerRows(
        filters=filters,
        rows=[row for row in rows if filters.matches(row)],
        problems=problems + more,
        providers=providers,
        models=models,
    )


def _require_permission(request: HttpRequest) -> None:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("The cost report needs the “Can view the cost report” permission.")


def cost_report(request: HttpRequest) -> HttpResponse:
    _require_permission(request)
    ledger = _ledger_rows(request)
    filters = ledger.filters
    report = cost_report_build(
        filters=filters,
        rows=ledger.rows,
        conversations=conversation_figures(
            period=filters.period, provider=filters.provider, model=filters.model, tier=filters.tier
        ),
        budget=budget_use_today(),
        premium=premium_prices(),
    )
    context = {
        **admin.site.each_context(request),
        "title": "Cost report",
        "report": report,
        "problems": ledger.problems,
        "providers": ledger.providers,
        "models": ledger.models,
        "tiers": Tier.choices,
        "csv_url": f"{reverse('cost-report-csv')}?{filters.querystring()}",
        "timezone_name": report_timezone().key,
        "breakdowns": [
            ("By tier", "Tier", report.by_tier),
            ("By provider", "Provider", report.by_provider),
            ("By model", "Model", report.by_model),
        ],
        "daily_chart": daily_cost_chart(report.by_day),
        "tier_chart": tier_cost_chart(report.by_tier),
        "savings_chart": savings_chart(report.totals),
    }
    return TemplateResponse(request, "admin/costs/report.html", context)


def cost_report_csv(request: HttpRequest) -> HttpResponse:
    """One line per day x provider x model x tier; money at the ledger's 10 decimal places."""
    _require_permission(request)
    ledger = _ledger_rows(request)
    period = ledger.filters.period
    premium = premium_prices()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="llm-costs-{period.start}-to-{period.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_line(row, premium) for row in ledger.rows)
    return response


def _csv_line(row: CostRow, premium: PremiumPrices | None) -> list[str | int]:
    baseline = premium.baseline_usd(row) if premium is not None else None
    return [
        row.day.isoformat(),
        row.provider,
        row.model,
        row.tier,
        row.llm_calls,
        row.failed_calls,
        row.cache_hits,
        row.tier0_answers,
        row.prompt_tokens,
        row.completion_tokens,
        row.cached_tokens,
        _money(row.cost_usd),
        _money(row.avoided_cost_usd),
        _money(row.cache_avoided_usd),
        _money(row.tier0_avoided_usd),
        "" if baseline is None else _money(baseline),
    ]


def _money(amount: Decimal) -> str:
    # Fixed 10 places, the ledger's own precision: every sum of its rows is exact there.
    return f"{amount:.10f}"
