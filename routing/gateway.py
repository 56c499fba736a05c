"""The LLM gateway: one streamed answer from the cheapest usable model of a tier.

For each candidate model, in order (the tier's chain by priority, then the tiers above):
skip it if disabled, keyless, its circuit is open, or the prompt does not fit; reserve the
call's worst-case cost against the budgets; take a slot under the provider's rate limit;
stream, retrying transient errors with backoff and honouring Retry-After; on failure fall
back to the next model. A stream that breaks after it started is restarted on the next
attempt and the caller is told (``on_reset``), never silently truncated. Every attempt
is a ledger row.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from orders.tokens import count_tokens
from routing.limits import (
    BudgetExceeded,
    breaker_allows,
    breaker_failure,
    breaker_success,
    budget_reserve,
    budget_settle,
    rate_take,
)
from routing.llm_client import PROMPT_TOKENS_PER_MESSAGE, Completion, ProviderError, client_for
from routing.models import LLMCall, LLMModel, Provider, TierRoute
from routing.services.ledger import Prices, llm_call_record

logger = logging.getLogger(__name__)

RETRIES_PER_MODEL = 1
BACKOFF_BASE_S = 0.2
# Waiting longer than this for one provider is worse for a shopper than another model.
MAX_WAIT_S = 2.0


class NoModelAvailable(Exception):
    """Every candidate failed, was over budget, rate-limited or switched off."""

    def __init__(self, reasons: list[str], budget_exhausted: bool = False) -> None:
        self.reasons = reasons
        self.budget_exhausted = budget_exhausted
        super().__init__("; ".join(reasons) or "no model configured")


@dataclass(frozen=True)
class Answer:
    text: str
    model: LLMModel
    tier: int
    completion: Completion


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    return sum(count_tokens(m["content"]) + PROMPT_TOKENS_PER_MESSAGE for m in messages)


def candidates(tier: int) -> Iterator[tuple[int, LLMModel]]:
    """(tier, model) in the order to try them: the tier's chain, then the tiers above."""
    seen: set[int] = set()
    for route_tier, model in _routes(tier):
        if model.pk not in seen and model.provider.has_key:
            seen.add(model.pk)
            yield route_tier, model


def _route_columns() -> str:
    tables = (("route", TierRoute), ("model", LLMModel), ("provider", Provider))
    return ", ".join(
        f"{alias}.{field.column}"
        for alias, model in tables
        for field in model._meta.concrete_fields
    )


# The routing table is read before every LLM reply and every tier-0 answer, and changes
# only when someone edits it. Building its model instances through the ORM took ~2 ms;
# each process keeps the instances it built with the raw rows they came from, reads the
# rows (every column of the three tables) each time, and builds again only when they
# differ. Only column names are interpolated.
_ROUTES_SQL = (
    f"SELECT {_route_columns()} FROM {TierRoute._meta.db_table} route"  # noqa: S608
    f" JOIN {LLMModel._meta.db_table} model ON model.id = route.model_id"
    f" JOIN {Provider._meta.db_table} provider ON provider.id = model.provider_id"
    " WHERE route.tier >= %s AND model.enabled AND provider.enabled"
    " ORDER BY route.tier, route.priority, route.id"
)
_built_routes: dict[
    tuple[str, int], tuple[list[tuple[object, ...]], list[tuple[int, LLMModel]]]
] = {}


def _routes(tier: int) -> list[tuple[int, LLMModel]]:
    """(tier, model) of every enabled route from ``tier`` up, in order. The instances are
    shared by the process's threads: read them, never change them."""
    with connection.cursor() as cursor:
        cursor.execute(_ROUTES_SQL, [tier])
        rows = cursor.fetchall()
    key = (connection.alias, tier)
    known = _built_routes.get(key)
    if known is not None and known[0] == rows:
        return known[1]
    # The rows were read first: a change landing in between makes the next call build again.
    routes = [
        (route.tier, route.model)
        for route in TierRoute.objects.filter(
            tier__gte=tier, model__enabled=True, model__provider__enabled=True
        )
        .select_related("model__provider")
        .order_by("tier", "priority", "id")
    ]
    _built_routes[key] = (rows, routes)
    return routes


def cheaper_candidates(tier: int, than: Decimal) -> Iterator[tuple[int, LLMModel]]:
    """When the budget is spent: models of lower tiers that cost less per token."""
    for lower in range(tier - 1, 0, -1):
        for route_tier, model in candidates(lower):
            if route_tier == lower and model.output_price_per_mtok < than:
                yield route_tier, model


def _spent_today() -> Decimal:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    total = LLMCall.objects.filter(created_at__gte=start).aggregate(total=Sum("cost_usd"))["total"]
    return total or Decimal(0)


def answer_stream(
    *,
    tier: int,
    messages: list[dict[str, str]],
    conversation_id: int | None,
    message_id: int | None,
    on_piece: Callable[[str], None],
    on_reset: Callable[[], None],
    stop: Sequence[str] = (),
) -> Answer:
    """``stop``: where the model's turn ends (the provider cuts its answer before any of
    these strings), for a prompt format the model might carry on writing."""
    reasons: list[str] = []
    budget_hit = False
    tried: set[int] = set()
    queue = list(candidates(tier))
    while queue:
        route_tier, model = queue.pop(0)
        if model.pk in tried:
            continue
        tried.add(model.pk)
        try:
            return _try_model(
                route_tier, model, messages, conversation_id, message_id, on_piece, on_reset, stop
            )
        except BudgetExceeded as exceeded:
            budget_hit = True
            reasons.append(f"{model.label}: {exceeded.scope} budget")
            queue = list(cheaper_candidates(route_tier, model.output_price_per_mtok)) + queue
        except _Skip as skip:
            reasons.append(f"{model.label}: {skip}")
    raise NoModelAvailable(reasons, budget_exhausted=budget_hit)


class _Skip(Exception):
    pass


def _try_model(
    tier: int,
    model: LLMModel,
    messages: list[dict[str, str]],
    conversation_id: int | None,
    message_id: int | None,
    on_piece: Callable[[str], None],
    on_reset: Callable[[], None],
    stop: Sequence[str] = (),
) -> Answer:
    if not breaker_allows(model.pk):
        raise _Skip("circuit open")
    tokens_in = prompt_tokens(messages)
    max_out = min(model.max_output_tokens, settings.LLM_MAX_TOKENS)
    if tokens_in + max_out > model.context_window:
        raise _Skip(f"prompt of {tokens_in} tokens does not fit")
    prices = Prices.of(model)
    worst = prices.cost(prompt_tokens=tokens_in, completion_tokens=max_out)
    reservation = budget_reserve(
        conversation_id=conversation_id, amount=worst, spent_today=_spent_today
    )
    spent = Decimal(0)
    try:
        for attempt in range(1, RETRIES_PER_MODEL + 2):
            _wait_for_rate(model, tokens_in + max_out)
            try:
                completion = _stream_once(model, messages, max_out, on_piece, stop)
            except ProviderError as error:
                row = _record_failure(
                    tier, model, prices, error, tokens_in, conversation_id, message_id, attempt
                )
                spent += row.cost_usd
                if error.partial_text:
                    on_reset()
                breaker_failure(model.pk)
                delay = _backoff(attempt, error.retry_after)
                if not error.transient or attempt > RETRIES_PER_MODEL or delay > MAX_WAIT_S:
                    _mark_fallback(row)
                    raise _Skip(f"{error.kind}") from error
                time.sleep(delay)
                continue
            row = _record_success(
                tier, model, prices, completion, conversation_id, message_id, attempt
            )
            spent += row.cost_usd
            breaker_success(model.pk)
            return Answer(text=completion.text, model=model, tier=tier, completion=completion)
        raise _Skip("retries exhausted")
    finally:
        budget_settle(reservation, spent)


def _wait_for_rate(model: LLMModel, tokens: int) -> None:
    provider = model.provider
    wait = rate_take(
        provider=provider.name,
        rpm=provider.requests_per_minute,
        tpm=provider.tokens_per_minute,
        tokens=tokens,
    )
    if wait == 0:
        return
    if wait > MAX_WAIT_S:
        raise _Skip(f"rate limit of {provider.name}")
    time.sleep(wait)
    if rate_take(
        provider=provider.name,
        rpm=provider.requests_per_minute,
        tpm=provider.tokens_per_minute,
        tokens=tokens,
    ):
        raise _Skip(f"rate limit of {provider.name}")


def _backoff(attempt: int, retry_after: float | None) -> float:
    # Exponential with full jitter, so a crowd of workers does not retry in step; the
    # provider's own Retry-After wins when it is longer.
    delay = random.uniform(0, BACKOFF_BASE_S * 2**attempt)
    return max(delay, retry_after or 0.0)


def _stream_once(
    model: LLMModel,
    messages: list[dict[str, str]],
    max_tokens: int,
    on_piece: Callable[[str], None],
    stop: Sequence[str] = (),
) -> Completion:
    client = client_for(
        model.provider.url,
        model.provider.api_key,
        connect_timeout=settings.LLM_CONNECT_TIMEOUT,
        read_timeout=settings.LLM_READ_TIMEOUT,
        total_timeout=settings.LLM_TOTAL_TIMEOUT,
    )
    with client.stream_chat(
        model=model.name, messages=messages, max_tokens=max_tokens, stop=stop
    ) as stream:
        for piece in stream:
            on_piece(piece)
        return stream.completion


def _record_success(
    tier: int,
    model: LLMModel,
    prices: Prices,
    completion: Completion,
    conversation_id: int | None,
    message_id: int | None,
    attempt: int,
) -> LLMCall:
    usage = completion.usage
    return llm_call_record(
        tier=tier,
        outcome=LLMCall.Outcome.OK,
        model=model,
        prices=prices,
        conversation_id=conversation_id,
        message_id=message_id,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        usage_estimated=usage.estimated,
        ttft_ms=None if completion.ttft_s is None else int(completion.ttft_s * 1000),
        total_ms=int(completion.total_s * 1000),
        attempt=attempt,
    )


def _record_failure(
    tier: int,
    model: LLMModel,
    prices: Prices,
    error: ProviderError,
    tokens_in: int,
    conversation_id: int | None,
    message_id: int | None,
    attempt: int,
) -> LLMCall:
    # A stream that broke was still billed for what it sent; an error before the first
    # token is counted as free (providers do not bill a refused request).
    partial = bool(error.partial_text)
    return llm_call_record(
        tier=tier,
        outcome=LLMCall.Outcome.PARTIAL if partial else LLMCall.Outcome.ERROR,
        model=model,
        prices=prices,
        conversation_id=conversation_id,
        message_id=message_id,
        prompt_tokens=tokens_in if partial else 0,
        completion_tokens=count_tokens(error.partial_text),
        usage_estimated=True,
        error_class=error.kind,
        attempt=attempt,
    )


def _mark_fallback(row: LLMCall) -> None:
    """The gateway gave up on this model after this attempt and moved on."""
    if row.outcome == LLMCall.Outcome.ERROR:
        row.outcome = LLMCall.Outcome.FALLBACK
        row.save(update_fields=["outcome"])
