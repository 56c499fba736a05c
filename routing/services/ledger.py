"""The cost ledger: every attempt, tier-0 answer and cache hit, priced when it happened."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from routing.models import LLMCall, LLMModel

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Prices:
    """A model's prices at one moment, snapshotted onto each ledger row."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cached_input_per_mtok: Decimal

    @classmethod
    def of(cls, model: LLMModel) -> Prices:
        cached = model.cached_input_price_per_mtok
        return cls(
            input_per_mtok=model.input_price_per_mtok,
            output_per_mtok=model.output_price_per_mtok,
            cached_input_per_mtok=model.input_price_per_mtok if cached is None else cached,
        )

    def cost(
        self, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> Decimal:
        cached = min(cached_tokens, prompt_tokens)
        return (
            Decimal(prompt_tokens - cached) * self.input_per_mtok
            + Decimal(cached) * self.cached_input_per_mtok
            + Decimal(completion_tokens) * self.output_per_mtok
        ) / MILLION


FREE = Prices(Decimal(0), Decimal(0), Decimal(0))


def llm_call_record(
    *,
    tier: int,
    outcome: str,
    model: LLMModel | None = None,
    prices: Prices | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cached_tokens: int = 0,
    usage_estimated: bool = False,
    avoided_cost_usd: Decimal = Decimal(0),
    ttft_ms: int | None = None,
    total_ms: int | None = None,
    error_class: str = "",
    attempt: int = 1,
) -> LLMCall:
    prices = prices or (Prices.of(model) if model is not None else FREE)
    return LLMCall.objects.create(
        created_at=timezone.now(),
        conversation_id=conversation_id,
        message_id=message_id,
        tier=tier,
        provider=model.provider.name if model is not None else "",
        model=model.name if model is not None else "",
        llm_model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        usage_estimated=usage_estimated,
        input_price_per_mtok=prices.input_per_mtok,
        output_price_per_mtok=prices.output_per_mtok,
        cached_input_price_per_mtok=prices.cached_input_per_mtok,
        cost_usd=prices.cost(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
        ),
        avoided_cost_usd=avoided_cost_usd,
        ttft_ms=ttft_ms,
        total_ms=total_ms,
        outcome=outcome,
        error_class=error_class,
        attempt=attempt,
    )
