"""Demo ledger history: what the gateway would have recorded for a given list of turns.

Routing does not know conversations: ``support_bot.services.demo_history`` creates the demo
conversations and hands over, by id, each bot reply to bill (a ``BilledTurn``). Here each
turn becomes the ledger rows the gateway writes: a tier-0 answer, a cache hit, or one or
more LLM attempts (errors retried, fallbacks to the tier's next model, streams broken off),
priced from the registry with ``Prices``, including one price change mid-period so that
old rows keep their old price.

Idempotent without a marker on the model: the demo's rows are exactly the rows of the
demo conversations, so seeding first deletes every ledger row of the conversations it is
given (and ``ledger_history_clear`` deletes those of conversations that are going away).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from routing.models import LLMCall, LLMModel, Tier, TierRoute
from routing.services.ledger import FREE, Prices

_T = TypeVar("_T")
ZERO = Decimal(0)

Outcome = LLMCall.Outcome
BATCH = 2_000
# How turns were answered: 35 % tier 0, 15 % cache hits, 50 % by an LLM, of which tiers
# 1, 2 and 3 take 70/20/10 (35 %, 10 %, 5 % of all turns).
ANSWERED_BY = (("tier0", 35), ("cache", 15), ("llm", 50))
LLM_TIERS = ((1, 70), (2, 20), (3, 10))
CACHED_TIERS = ((1, 70), (2, 25), (3, 5))  # whose answer a cache hit reuses
SPILL = 0.15  # turns sent to the tier's second model (rate limits) rather than its first
# Per LLM turn: the first attempt falls back to the next model, fails and is retried, or
# breaks off mid-stream and is retried.
FALLBACK, RETRY, BROKEN = 0.025, 0.012, 0.01
ERRORS = ("ProviderTimeout", "HTTP 503", "HTTP 429", "HTTP 500")
SYSTEM_PROMPT_TOKENS = 896  # the shared prefix providers cache from the second turn on
LATENCY_MS = {1: (350, 2_400), 2: (500, 3_800), 3: (800, 6_500)}  # typical (ttft, total)
# The cheap tier's first model had its price cut halfway through the history: rows before
# the cut keep the old, higher price, which is what the report's snapshotting must show.
PRICE_BEFORE_CUT = Decimal("1.25")


@dataclass(frozen=True)
class BilledTurn:
    """A bot reply to bill: ids only, since routing never imports support_bot."""

    conversation_id: int
    message_id: int | None
    at: datetime  # when the reply was finished
    turn: int = 1  # 1 for a conversation's first reply: later prompts carry more history


def ledger_history_seed(
    *, days: int = 90, seed: int = 7, today: date, turns: Sequence[BilledTurn]
) -> int:
    """Write the ledger rows for ``turns``, replacing earlier ones; returns how many.

    Deterministic: the same turns, seed and registry give the same rows. The price cut
    falls at midnight ``days // 2`` days before ``today``.
    """
    rng = random.Random(seed)
    routes = _routes()
    cut_at = datetime.combine(
        today - timedelta(days=days // 2), time.min, tzinfo=timezone.get_default_timezone()
    )
    rows: list[LLMCall] = []
    for turn in turns:
        rows.extend(_turn_rows(rng, turn, routes, after_cut=turn.at >= cut_at))
    with transaction.atomic():
        ledger_history_clear(conversation_ids={turn.conversation_id for turn in turns})
        LLMCall.objects.bulk_create(rows, batch_size=BATCH)
    return len(rows)


def ledger_history_clear(*, conversation_ids: Iterable[int]) -> int:
    """Delete the ledger rows of these conversations; returns how many."""
    ids = sorted(conversation_ids)
    deleted = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        deleted += LLMCall.objects.filter(conversation_id__in=chunk).delete()[0]
    return deleted


@dataclass(frozen=True)
class _Route:
    model: LLMModel
    before_cut: Prices
    after_cut: Prices

    def prices(self, *, after_cut: bool) -> Prices:
        return self.after_cut if after_cut else self.before_cut


def _routes() -> dict[int, list[_Route]]:
    """Each LLM tier's enabled models, in fallback order."""
    routes: dict[int, list[_Route]] = {}
    for route in TierRoute.objects.filter(
        model__enabled=True, model__provider__enabled=True
    ).select_related("model__provider"):
        prices = Prices.of(route.model)
        routes.setdefault(route.tier, []).append(_Route(route.model, prices, prices))
    if routes.get(Tier.CHEAP):
        first = routes[Tier.CHEAP][0]
        now = first.after_cut
        before = Prices(
            input_per_mtok=_old_price(now.input_per_mtok),
            output_per_mtok=_old_price(now.output_per_mtok),
            cached_input_per_mtok=_old_price(now.cached_input_per_mtok),
        )
        # The same model may serve other tiers too: it was one price list, so cut it there.
        for tier_routes in routes.values():
            for index, served in enumerate(tier_routes):
                if served.model.pk == first.model.pk:
                    tier_routes[index] = _Route(served.model, before, now)
    return routes


def _old_price(price: Decimal) -> Decimal:
    # Rounded as the ledger's price columns store it, so each row's cost matches its price.
    return (price * PRICE_BEFORE_CUT).quantize(Decimal("0.0001"))


def _turn_rows(
    rng: random.Random, turn: BilledTurn, routes: dict[int, list[_Route]], *, after_cut: bool
) -> list[LLMCall]:
    answered_by = _choose(rng, ANSWERED_BY)
    usage = _usage(rng, turn)
    if answered_by == "cache":
        tier = _choose(rng, CACHED_TIERS)
        if routes.get(tier):
            return [_cache_hit(rng, turn, tier, routes[tier][0], usage, after_cut=after_cut)]
    elif answered_by == "llm":
        tier = _choose(rng, LLM_TIERS)
        if routes.get(tier):
            return _attempts(rng, turn, tier, routes[tier], usage, after_cut=after_cut)
    # Tier 0, or a tier the registry no longer serves: answered from the shop's data.
    cheap = routes.get(Tier.CHEAP)
    avoided = cheap[0].prices(after_cut=after_cut).cost(**usage) if cheap else ZERO
    return [
        _row(turn, tier=0, outcome=Outcome.TIER0, avoided=avoided, ms=(rng.randint(15, 120), 0))
    ]


def _choose(rng: random.Random, weighted: Sequence[tuple[_T, int]]) -> _T:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def _usage(rng: random.Random, turn: BilledTurn) -> dict[str, int]:
    """Tokens of a reply: system prompt, the shop's data, then history growing each turn."""
    history = 180 * (turn.turn - 1)
    return {
        "prompt_tokens": SYSTEM_PROMPT_TOKENS + rng.randint(350, 1_400) + history,
        "completion_tokens": rng.randint(40, 280),
        "cached_tokens": SYSTEM_PROMPT_TOKENS if turn.turn > 1 else 0,
    }


def _cache_hit(
    rng: random.Random,
    turn: BilledTurn,
    tier: int,
    route: _Route,
    usage: dict[str, int],
    *,
    after_cut: bool,
) -> LLMCall:
    prices = route.prices(after_cut=after_cut)
    return _row(
        turn,
        tier=tier,
        outcome=Outcome.CACHE_HIT,
        route=route,
        prices=prices,
        avoided=prices.cost(**usage),
        ms=(rng.randint(20, 90), 0),
    )


def _attempts(
    rng: random.Random,
    turn: BilledTurn,
    tier: int,
    chain: list[_Route],
    usage: dict[str, int],
    *,
    after_cut: bool,
) -> list[LLMCall]:
    """The attempts of one LLM reply, the last one answering."""
    start = 1 if len(chain) > 1 and rng.random() < SPILL else 0
    ttft, total = (int(ms * rng.uniform(0.6, 1.6)) for ms in LATENCY_MS[tier])
    mishap = rng.random()
    rows: list[LLMCall] = []
    route = chain[start]
    if mishap < FALLBACK + RETRY:
        fall_back = mishap < FALLBACK and start + 1 < len(chain)
        rows.append(
            _row(
                turn,
                tier=tier,
                outcome=Outcome.FALLBACK if fall_back else Outcome.ERROR,
                route=route,
                prices=route.prices(after_cut=after_cut),
                error_class=rng.choice(ERRORS),
                ms=(0, rng.randint(2_000, 30_000)),
                earlier=timedelta(seconds=35),
            )
        )
        route = chain[start + 1] if fall_back else route
    elif mishap < FALLBACK + RETRY + BROKEN:
        broken = {**usage, "completion_tokens": usage["completion_tokens"] // 3}
        rows.append(
            _row(
                turn,
                tier=tier,
                outcome=Outcome.PARTIAL,
                route=route,
                prices=route.prices(after_cut=after_cut),
                usage=broken,
                estimated=True,
                error_class="StreamBrokeOff",
                ms=(ttft, total // 3),
                earlier=timedelta(seconds=12),
            )
        )
    rows.append(
        _row(
            turn,
            tier=tier,
            outcome=Outcome.OK,
            route=route,
            prices=route.prices(after_cut=after_cut),
            usage=usage,
            ms=(ttft, total),
            attempt=len(rows) + 1,
        )
    )
    return rows


def _row(
    turn: BilledTurn,
    *,
    tier: int,
    outcome: str,
    route: _Route | None = None,
    prices: Prices = FREE,
    usage: dict[str, int] | None = None,
    estimated: bool = False,
    avoided: Decimal = ZERO,
    error_class: str = "",
    ms: tuple[int, int],
    earlier: timedelta = timedelta(0),
    attempt: int = 1,
) -> LLMCall:
    """One ledger row, as ``routing.services.ledger.llm_call_record`` would write it."""
    usage = usage or {}
    model = route.model if route is not None else None
    ttft, total = ms
    return LLMCall(
        created_at=turn.at - earlier,
        conversation_id=turn.conversation_id,
        message_id=turn.message_id,
        tier=tier,
        provider=model.provider.name if model is not None else "",
        model=model.name if model is not None else "",
        llm_model=model,
        prompt_tokens=usage.get("prompt_tokens", 0),
        completion_tokens=usage.get("completion_tokens", 0),
        cached_tokens=usage.get("cached_tokens", 0),
        usage_estimated=estimated,
        input_price_per_mtok=prices.input_per_mtok,
        output_price_per_mtok=prices.output_per_mtok,
        cached_input_price_per_mtok=prices.cached_input_per_mtok,
        cost_usd=prices.cost(**usage) if usage else ZERO,
        avoided_cost_usd=avoided,
        ttft_ms=ttft or None,
        total_ms=total or None,
        outcome=outcome,
        error_class=error_class,
        attempt=attempt,
    )
