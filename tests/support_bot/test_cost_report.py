"""Finance's cost report in the admin: figures, filters, CSV, permissions, demo history."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from routing.models import LLMCall, LLMModel, Provider, TierRoute
from routing.services.ledger import Prices
from routing.services.ledger_history import BilledTurn, ledger_history_seed
from support_bot.cost_report.selectors import report_today
from support_bot.models import Conversation, Message, Rating
from support_bot.services.demo_history import demo_conversations, demo_history_seed

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

URL = "/admin/costs/"
CSV_URL = "/admin/costs/export.csv"
CENT = Decimal("0.01")
MONEY_COLUMNS = ("cost_usd", "avoided_cost_usd", "cache_avoided_usd", "tier0_avoided_usd")


# --- fixtures ----------------------------------------------------------------------------


def _user(username: str, *, staff: bool, cost_report: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw-for-tests-1")
    user.is_staff = staff
    user.save()
    if cost_report:
        user.user_permissions.add(Permission.objects.get(codename="view_cost_report"))
    return user


@pytest.fixture
def finance_client(client: Client) -> Client:
    """Staff with only the cost-report permission: what finance gets."""
    client.force_login(_user("finance", staff=True, cost_report=True))
    return client


@pytest.fixture
def days() -> tuple[date, date]:
    today = report_today()
    return today - timedelta(days=10), today - timedelta(days=5)


def _at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=timezone.get_default_timezone())


def _call(
    at: datetime,
    *,
    tier: int,
    outcome: str = "ok",
    provider: str = "",
    model: str = "",
    prices: tuple[str, str] = ("0", "0"),
    prompt: int = 0,
    completion: int = 0,
    avoided: str = "0",
    conversation: Conversation | None = None,
) -> LLMCall:
    """A ledger row as the gateway writes it: priced with the prices of that moment."""
    snapshot = Prices(Decimal(prices[0]), Decimal(prices[1]), Decimal(prices[0]))
    return LLMCall.objects.create(
        created_at=at,
        conversation=conversation,
        tier=tier,
        provider=provider,
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        input_price_per_mtok=snapshot.input_per_mtok,
        output_price_per_mtok=snapshot.output_per_mtok,
        cached_input_price_per_mtok=snapshot.cached_input_per_mtok,
        cost_usd=snapshot.cost(prompt_tokens=prompt, completion_tokens=completion),
        avoided_cost_usd=Decimal(avoided),
        outcome=outcome,
    )


def _conversation(
    created: datetime,
    *,
    shopper_messages: int,
    resolution: str = "",
    resolved: datetime | None = None,
    escalated: datetime | None = None,
    score: int | None = None,
) -> Conversation:
    conversation = Conversation.objects.create(
        resolution=resolution, resolved_at=resolved, escalated_at=escalated
    )
    # created_at fields are auto_now_add: the history is written afterwards.
    Conversation.objects.filter(pk=conversation.pk).update(created_at=created)
    for n in range(shopper_messages):
        message = Message.objects.create(conversation=conversation, role="shopper", text="?")
        Message.objects.filter(pk=message.pk).update(created_at=created + timedelta(minutes=n))
        Message.objects.create(conversation=conversation, role="bot", text="!")
    if score is not None:
        rating = Rating.objects.create(conversation=conversation, score=score)
        Rating.objects.filter(pk=rating.pk).update(created_at=resolved or created)
    return conversation


@pytest.fixture
def ledger(days: tuple[date, date]) -> dict[str, Any]:
    """Hand-made ledger over two days, with DeepSeek's price cut between them.

    Registry for the premium baseline: only "Premium" is enabled, at $5 in / $20 out.
    """
    day1, day2 = days
    LLMModel.objects.update(enabled=False)
    premium = Provider.objects.create(name="Premium Co", base_url="https://premium.example/v1")
    LLMModel.objects.create(
        provider=premium,
        name="premium-1",
        label="Premium 1",
        input_price_per_mtok=Decimal("5"),
        output_price_per_mtok=Decimal("20"),
    )
    bot_resolved = _conversation(
        _at(day1, 9), shopper_messages=2, resolution="bot", resolved=_at(day1, 13), score=5
    )
    agent_resolved = _conversation(
        _at(day2, 9),
        shopper_messages=2,
        resolution="agent",
        escalated=_at(day2, 10),
        resolved=_at(day2, 14),
        score=3,
    )
    open_one = _conversation(_at(day2, 11), shopper_messages=1)
    gpt: dict[str, Any] = {"provider": "OpenAI", "model": "gpt-4.1", "prices": ("2.00", "8.00")}
    deepseek: dict[str, Any] = {"provider": "DeepSeek", "model": "deepseek-chat"}
    claude: dict[str, Any] = {
        "provider": "Anthropic",
        "model": "claude-sonnet-4-5",
        "prices": ("3.00", "15.00"),
    }
    # day 1: $0.006 + $0.0016 (DeepSeek at its old $0.40/$0.80) + a cache hit
    _call(_at(day1), tier=3, prompt=1000, completion=500, conversation=bot_resolved, **gpt)
    _call(
        _at(day1),
        tier=1,
        prompt=2000,
        completion=1000,
        prices=("0.40", "0.80"),
        conversation=bot_resolved,
        **deepseek,
    )
    _call(
        _at(day1),
        tier=1,
        outcome="cache_hit",
        avoided="0.0012",
        prices=("0.40", "0.80"),
        conversation=bot_resolved,
        **deepseek,
    )
    # day 2: DeepSeek at its new $0.27/$0.42: $0.00096; a tier-0 answer; Claude fails
    # after billing the prompt ($0.0045), GPT-4.1 answers ($0.0054)
    _call(
        _at(day2),
        tier=1,
        prompt=2000,
        completion=1000,
        prices=("0.27", "0.42"),
        conversation=open_one,
        **deepseek,
    )
    _call(_at(day2), tier=0, outcome="tier0", avoided="0.0005", conversation=open_one)
    _call(
        _at(day2),
        tier=3,
        outcome="fallback",
        prompt=1500,
        conversation=agent_resolved,
        **claude,
    )
    _call(_at(day2), tier=3, prompt=1500, completion=300, conversation=agent_resolved, **gpt)
    # Outside the period asked for.
    _call(_at(day1 - timedelta(days=40)), tier=3, prompt=1000, completion=1000, **gpt)
    return {"query": {"start": day1.isoformat(), "end": day2.isoformat()}}


def _report(client: Client, query: dict[str, str] | None = None) -> Any:
    response = client.get(URL, query or {})
    assert response.status_code == 200
    return response.context["report"]


def _csv(client: Client, query: dict[str, str] | None = None) -> list[dict[str, str]]:
    response = client.get(CSV_URL, query or {})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# --- figures -----------------------------------------------------------------------------


def test_totals_match_the_hand_computed_ledger(
    finance_client: Client, ledger: dict[str, Any]
) -> None:
    report = _report(finance_client, ledger["query"])
    t = report.totals
    assert t.cost_usd == Decimal("0.01846")
    assert (t.llm_calls, t.failed_calls, t.cache_hits, t.tier0_answers) == (5, 1, 1, 1)
    assert (t.prompt_tokens, t.completion_tokens) == (8000, 2800)
    assert (t.cache_avoided_usd, t.tier0_avoided_usd) == (Decimal("0.0012"), Decimal("0.0005"))
    # 8,000 x $5 + 2,800 x $20 per million, plus the token-less cache hit and tier-0 answer.
    assert t.baseline_usd == Decimal("0.0977")
    assert report.saving_usd == Decimal("0.07924")
    assert round(report.saving_pct, 4) == Decimal("81.1054")
    body = finance_client.get(URL, ledger["query"]).content.decode()
    assert "$0.0185" in body  # the page rounds to 4 places
    assert "81.1%" in body


def test_an_old_row_keeps_its_old_price_after_a_price_change(
    finance_client: Client, ledger: dict[str, Any], days: tuple[date, date]
) -> None:
    LLMModel.objects.filter(name="deepseek-chat").update(
        input_price_per_mtok=Decimal("9"), output_price_per_mtok=Decimal("9")
    )
    report = _report(finance_client, {**ledger["query"], "provider": "DeepSeek"})
    by_day = {line.day: line.totals.cost_usd for line in report.by_day}
    assert (by_day[days[0]], by_day[days[1]]) == (Decimal("0.0016"), Decimal("0.00096"))
    assert sum(by_day.values()) == Decimal("0.00256")


def test_breakdowns_by_provider_model_and_tier(
    finance_client: Client, ledger: dict[str, Any]
) -> None:
    report = _report(finance_client, ledger["query"])
    assert [(line.label, line.totals.cost_usd) for line in report.by_provider] == [
        ("OpenAI", Decimal("0.0114")),
        ("Anthropic", Decimal("0.0045")),
        ("DeepSeek", Decimal("0.00256")),
        ("— (no LLM)", Decimal("0")),
    ]
    assert [(line.key, line.totals.cost_usd) for line in report.by_tier] == [
        (0, Decimal("0")),
        (1, Decimal("0.00256")),
        (3, Decimal("0.0159")),
    ]
    assert report.by_model[0].label == "OpenAI / gpt-4.1"
    assert sum(line.share_pct for line in report.by_model) == 100


def test_conversation_figures(finance_client: Client, ledger: dict[str, Any]) -> None:
    report = _report(finance_client, ledger["query"])
    c = report.conversations
    assert (c.shopper_messages, c.conversations, c.escalations) == (5, 3, 1)
    assert (c.resolved_by_bot, c.resolved_by_agent) == (1, 1)
    assert report.cost_per_bot_resolution == Decimal("0.0076")
    assert report.cost_per_agent_resolution == Decimal("0.0099")
    assert report.cost_per_conversation == Decimal("0.01846") / 3
    assert (report.csat_average, c.ratings) == (Decimal(4), 2)


def test_days_are_calendar_days_in_the_projects_time_zone(
    finance_client: Client, settings: Any
) -> None:
    settings.TIME_ZONE = "America/New_York"
    # 02:30 UTC on the 2nd is still the 1st in New York.
    late = datetime(2025, 3, 2, 2, 30, tzinfo=UTC)
    _call(late, tier=1, provider="DeepSeek", model="deepseek-chat", prices=("1", "1"), prompt=10)
    rows = _csv(finance_client, {"start": "2025-03-01", "end": "2025-03-02"})
    assert [(row["date"], row["prompt_tokens"]) for row in rows] == [("2025-03-01", "10")]


def test_todays_budget_use(finance_client: Client, settings: Any) -> None:
    settings.DAILY_BUDGET_USD = Decimal("2.00")
    _call(
        timezone.now(),
        tier=3,
        provider="OpenAI",
        model="gpt-4.1",
        prices=("1", "0"),
        prompt=500_000,
    )
    report = _report(finance_client)
    assert (report.budget.spent_usd, report.budget.percent) == (Decimal("0.5"), Decimal(25))


# --- CSV and reconciliation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "narrowing", [{}, {"provider": "DeepSeek"}, {"model": "gpt-4.1"}, {"tier": "3"}]
)
def test_the_csv_holds_exactly_the_pages_numbers(
    finance_client: Client, ledger: dict[str, Any], narrowing: dict[str, str]
) -> None:
    query = {**ledger["query"], **narrowing}
    report = _report(finance_client, query)
    rows = _csv(finance_client, query)
    assert len(rows) == len(report.rows)
    for column, total in (
        ("cost_usd", report.totals.cost_usd),
        ("avoided_cost_usd", report.totals.avoided_cost_usd),
        ("premium_baseline_usd", report.totals.baseline_usd),
    ):
        assert sum(Decimal(row[column]) for row in rows) == total
    assert sum(int(row["calls"]) for row in rows) == report.totals.llm_calls
    assert sum(int(row["prompt_tokens"]) for row in rows) == report.totals.prompt_tokens
    assert all(len(row["cost_usd"].split(".")[1]) == 10 for row in rows)


def test_totals_reconcile_with_the_ledger_to_the_cent(finance_client: Client) -> None:
    today = report_today()
    demo_history_seed(days=20, seed=11, today=today)
    start = today - timedelta(days=29)
    since = datetime.combine(start, time.min, tzinfo=timezone.get_default_timezone())
    ledger = sum(
        LLMCall.objects.filter(created_at__gte=since).values_list("cost_usd", flat=True),
        Decimal(0),
    )
    report = _report(finance_client)
    assert ledger > 0
    assert report.totals.cost_usd.quantize(CENT) == ledger.quantize(CENT)
    assert abs(report.totals.cost_usd - ledger) < Decimal("1e-8")  # float-backed on SQLite
    csv_total = sum((Decimal(row["cost_usd"]) for row in _csv(finance_client)), Decimal(0))
    assert csv_total == report.totals.cost_usd


# --- filters -------------------------------------------------------------------------------


def test_filters_narrow_the_report(
    finance_client: Client, ledger: dict[str, Any], days: tuple[date, date]
) -> None:
    query = ledger["query"]
    only_day2 = {"start": days[1].isoformat(), "end": days[1].isoformat()}
    assert _report(finance_client, only_day2).totals.cost_usd == Decimal("0.01086")
    assert _report(finance_client, {**query, "provider": "OpenAI"}).totals.cost_usd == Decimal(
        "0.0114"
    )
    assert _report(finance_client, {**query, "model": "claude-sonnet-4-5"}).totals.cost_usd == (
        Decimal("0.0045")
    )
    tier0 = _report(finance_client, {**query, "tier": "0"})
    assert (tier0.totals.tier0_answers, tier0.totals.cost_usd) == (1, Decimal(0))
    # The default period is the last 30 days: the 40-days-older row is not in it.
    assert _report(finance_client).totals.cost_usd == Decimal("0.01846")
    wide = {"start": (days[0] - timedelta(days=45)).isoformat(), "end": query["end"]}
    assert _report(finance_client, wide).totals.cost_usd == Decimal("0.02846")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2025-13-45"}, "is not a date"),
        ({"start": "yesterday", "end": "today"}, "is not a date"),
        ({"start": "2025-03-10", "end": "2025-03-01"}, "is after the end date"),
        ({"start": "2020-01-01", "end": "2025-01-01"}, "at most 366 days"),
        ({"provider": "Nobody"}, "no provider"),
        ({"model": "x" * 500}, "no model"),
        ({"tier": "7"}, "tier must be"),
        ({"tier": "²"}, "tier must be"),
        ({"tier": "-1"}, "tier must be"),
    ],
)
def test_bad_filters_show_a_message_and_the_defaults(
    finance_client: Client, ledger: dict[str, Any], query: dict[str, str], message: str
) -> None:
    response = finance_client.get(URL, query)
    assert response.status_code == 200
    assert any(message in problem for problem in response.context["problems"])
    assert message in response.content.decode()
    filters = response.context["report"].filters
    assert (filters.period.end - filters.period.start).days + 1 == 30 or "start" not in query
    assert finance_client.get(CSV_URL, query).status_code == 200


# --- who may see it ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_anonymous_visitors_go_to_the_admin_login(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/admin/login/?next={url}")


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_staff_without_the_permission_are_refused(client: Client, url: str) -> None:
    client.force_login(_user("clerk", staff=True))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_a_permitted_non_staff_user_still_needs_the_admin(client: Client, url: str) -> None:
    client.force_login(_user("outsider", staff=False, cost_report=True))
    assert client.get(url).status_code == 302


def test_staff_with_the_permission_and_superusers_get_it(
    finance_client: Client, client: Client
) -> None:
    assert finance_client.get(URL).status_code == 200
    boss = User.objects.create_superuser("boss", "boss@example.com", "boss-password-1")
    client.force_login(boss)
    assert client.get(URL).status_code == 200
    assert client.get(CSV_URL).status_code == 200


def test_the_admin_index_links_to_the_report_only_for_those_who_may_read_it(
    finance_client: Client, client: Client
) -> None:
    assert 'href="/admin/costs/"' in finance_client.get("/admin/").content.decode()
    client.force_login(_user("clerk", staff=True))
    assert 'href="/admin/costs/"' not in client.get("/admin/").content.decode()


def test_the_charts_are_accessible_svg(finance_client: Client, ledger: dict[str, Any]) -> None:
    body = finance_client.get(URL, ledger["query"]).content.decode()
    assert body.count('role="img"') == 3
    for chart in ("chart-daily", "chart-tiers", "chart-savings"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in body
        assert f'<desc id="{chart}-desc">' in body
    assert "<script" not in body.split('id="content-main"')[1]


# --- demo history --------------------------------------------------------------------------


def _ledger_fingerprint() -> list[tuple[Any, ...]]:
    return sorted(
        LLMCall.objects.values_list(
            "created_at", "tier", "provider", "model", "prompt_tokens", "cost_usd", "outcome"
        )
    )


def test_ledger_history_seed_is_deterministic_and_replaces_its_own_rows() -> None:
    today = date(2025, 6, 30)
    base = datetime(2025, 6, 1, 10, tzinfo=UTC)
    turns = [
        BilledTurn(conversation_id=900 + n % 40, message_id=None, at=base + timedelta(hours=n))
        for n in range(400)
    ]
    first = ledger_history_seed(days=30, seed=3, today=today, turns=turns)
    rows = _ledger_fingerprint()
    again = ledger_history_seed(days=30, seed=3, today=today, turns=turns)
    assert first == again == len(rows) == LLMCall.objects.count()
    assert _ledger_fingerprint() == rows
    outcomes = set(LLMCall.objects.values_list("outcome", flat=True))
    assert {"ok", "tier0", "cache_hit"} <= outcomes
    tiers = dict(_tier_shares())
    assert 0.25 < tiers[0] < 0.45 and 0.25 < tiers[1] < 0.55


def _tier_shares() -> list[tuple[int, float]]:
    total = LLMCall.objects.count()
    return [(t, LLMCall.objects.filter(tier=t).count() / total) for t in range(4)]


def test_demo_history_is_idempotent_and_never_touches_real_conversations() -> None:
    today = date(2025, 6, 30)
    real = Conversation.objects.create()
    real_call = _call(timezone.now(), tier=0, outcome="tier0", conversation=real)
    first = demo_history_seed(days=7, seed=5, today=today)
    rows = _ledger_fingerprint()
    second = demo_history_seed(days=7, seed=5, today=today)
    assert first == second
    assert _ledger_fingerprint() == rows
    assert demo_conversations().count() == first.conversations
    assert Conversation.objects.count() == first.conversations + 1
    assert LLMCall.objects.filter(pk=real_call.pk, conversation=real).exists()
    assert Message.objects.filter(conversation__in=demo_conversations()).count() == first.messages


def test_demo_history_prices_the_cheap_model_higher_before_its_price_cut() -> None:
    today = date(2025, 6, 30)
    cheapest = TierRoute.objects.filter(tier=1).select_related("model").first()
    assert cheapest is not None
    demo_history_seed(days=20, seed=5, today=today)
    cut = datetime.combine(today - timedelta(days=10), time.min, tzinfo=UTC)
    calls = LLMCall.objects.filter(model=cheapest.model.name, outcome="ok")
    before = set(calls.filter(created_at__lt=cut).values_list("input_price_per_mtok", flat=True))
    after = set(calls.filter(created_at__gte=cut).values_list("input_price_per_mtok", flat=True))
    now = cheapest.model.input_price_per_mtok
    assert before == {now * Decimal("1.25")} and after == {now}
