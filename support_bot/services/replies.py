"""Writing one bot reply: claim it, route it, answer it, stream it to the widgets, store it.

Routing picks the cheapest tier that can answer: tier 0 answers from the shop's data with
no model; tiers 1-3 go through the gateway (budgets, rate limits, retries, fallback, the
ledger). A decision to hand off goes to a person instead.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
from django.conf import settings

from orders.context import order_context_build, order_context_rendering
from routing.answers import written_answer
from routing.decisions import RouteDecision, Turn, route_decide
from routing.embeddings import embed_soon
from routing.gateway import NoModelAvailable, answer_stream, candidates, prompt_tokens
from routing.models import LLMCall
from routing.policies import PolicyVersion, policy_passages, policy_versions
from routing.products import ProductFact, product_facts
from routing.services.ledger import Prices, llm_call_record
from routing.tier0 import tier0_answer, tier0_asked_to_verify, tier0_verify_first
from support_bot.cache.entities import question_entities
from support_bot.cache.frames import answer_frame
from support_bot.cache.keys import CacheQuery, context_digest, products_digest
from support_bot.cache.services import (
    CachedAnswer,
    cache_discard_conversation,
    cache_lookup,
    cache_query,
    cache_served,
    cache_store,
    question_is_general,
    shopper_turns,
    single_flight,
)
from support_bot.memory import fold
from support_bot.prompt import STOP_SEQUENCES, prompt_build
from support_bot.selectors import ReplyJob, reply_job_get
from support_bot.services.conversations import (
    conversation_language_follow,
    conversation_memory_save,
)
from support_bot.services.handoff import conversation_escalate
from support_bot.services.messages import reply_claim, reply_finish, reply_heartbeat
from support_bot.streams import DeltaCoalescer, partial_save, publish

logger = logging.getLogger(__name__)

# Well inside the lease, so a live reply never looks orphaned.
HEARTBEAT_SECONDS = min(5.0, settings.REPLY_LEASE_SECONDS / 3)
# What a tier-0 answer would have cost: the prompt a tier-1 model would have read and an
# answer of this many tokens.
TIER0_COUNTERFACTUAL_REPLY_TOKENS = 80
# The order context in that prompt is not built for a tier-0 answer (building it is most
# of what the answer would cost): it is counted at the mean size of the order contexts
# this process's LLM replies rendered, an exponential moving average (the budget, the
# most it can be, until there is one).
_order_context_tokens: float | None = None
_ORDER_CONTEXT_SMOOTHING = 0.05


@dataclass(frozen=True)
class ReplyFacts:
    """What a prompt is built from, read once per reply: the answer cache's key is made
    from the same reads (bench/routing.py builds and prices prompts from them too)."""

    # The customer's rendered order context; None: not signed in, or a general question.
    orders_text: str | None
    policies: tuple[PolicyVersion, ...]
    general: bool = False  # the answer is the same for every shopper: no customer data
    # For a question about products: the catalogue's products it may mean.
    products: tuple[ProductFact, ...] = ()


class ReplyTakenOver(Exception):
    """The reply stopped being ours (another worker reclaimed it, or a person took over)."""


class _Stream:
    """Pieces from the gateway → coalesced deltas on the conversation's group."""

    def __init__(self, job: ReplyJob, *, beats: bool = True) -> None:
        self.job = job
        self.coalescer = DeltaCoalescer(job.reply_id)
        self.last_beat = time.monotonic()
        # A live answer marks its first token and keeps its claim alive as it streams. A
        # ready one is streamed and finished within milliseconds: its finish marks both.
        self.beats = beats

    def piece(self, text: str) -> None:
        frame = self.coalescer.add(text)
        if frame is None:
            return
        publish(self.job.group, frame)
        partial_save(self.job.reply_id, self.coalescer.seq, self.coalescer.text)
        self.coalescer.sent()
        first = self.coalescer.seq == 1
        if not self.beats:
            return
        if first or time.monotonic() - self.last_beat > HEARTBEAT_SECONDS:
            if not reply_heartbeat(reply_id=self.job.reply_id, first_token=first):
                raise ReplyTakenOver()
            self.last_beat = time.monotonic()

    def reset(self) -> None:
        if self.coalescer.seq:
            # Never a silently truncated answer: the widget clears and starts over.
            publish(
                self.job.group,
                {"type": "reset", "message_id": self.job.reply_id, "reason": "retry"},
            )
        self.coalescer.reset()

    def whole(self, text: str, words_per_piece: int = 8) -> None:
        """A ready answer (tier 0, a cache hit) streamed in a few pieces like a live one,
        so the widget behaves the same."""
        words = text.split(" ")
        for start in range(0, len(words), words_per_piece):
            end = start + words_per_piece
            self.piece(" ".join(words[start:end]) + (" " if end < len(words) else ""))
        self.flush()

    def flush(self) -> None:
        frame = self.coalescer.flush()
        if frame is not None:
            publish(self.job.group, frame)


def reply_generate(*, reply_id: int, text: str | None = None) -> bool:
    """Write the reply; False when it was not ours to write (another worker holds it, or
    it is finished).

    ``text``: the shopper message it answers, when the sender knew it. Its embedding then
    starts at once, beside the claim and the conversation read, instead of after them.
    """
    text = text.strip() if text else None
    vector = embed_soon(text) if text else None
    if not reply_claim(reply_id=reply_id):
        logger.info("reply %s already taken or finished", reply_id)
        return False
    _reply_write(reply_id, text, vector)
    return True


def _reply_write(
    reply_id: int, text: str | None = None, vector: Future[np.ndarray] | None = None
) -> None:
    job = reply_job_get(reply_id=reply_id)
    if job.attempt > 1:
        # A worker died mid-reply and this is the redelivery: widgets drop what the dead
        # worker streamed, and the reply starts again at seq 1.
        publish(job.group, {"type": "reset", "message_id": reply_id, "reason": "redelivered"})
    job = _remember(job)
    shopper_text, earlier = _split_history(job)
    decision = route_decide(
        text=shopper_text,
        history=_since_verified(earlier) if job.customer_id is not None else earlier,
        customer_known=job.customer_id is not None,
        # The conversation says which message this reply answers; a hint about another
        # one (the shopper wrote again meanwhile) is not used.
        vector=vector.result() if vector is not None and text == shopper_text.strip() else None,
    )
    language = conversation_language_follow(
        conversation_id=job.conversation_id, current=job.language, written=decision.language
    )
    job = replace(job, language=language)
    if decision.escalate:
        _hand_off(job, list(decision.reasons))
        return
    if (
        decision.tier0
        and job.customer_id is not None
        and _answer_tier0(job, decision, shopper_text)
    ):
        return
    if job.customer_id is None and "needs_verification" in decision.reasons:
        _answer_without_model(job, decision, tier0_verify_first(job.language))
        return
    general = question_is_general(text=shopper_text, decision=decision)
    written = written_answer_for(
        text=shopper_text, decision=decision, language=job.language, general=general
    )
    if written is not None:
        _answer_without_model(job, decision, written)
        return
    _answer_llm(job, decision, shopper_text, general=general and not _prompt_has_earlier_turns(job))


def _remember(job: ReplyJob) -> ReplyJob:
    """Fold turns that left the recent window into the stored summary."""
    if not job.memory_pending:
        return job
    summary = fold(job.memory_summary, job.memory_pending)
    conversation_memory_save(
        conversation_id=job.conversation_id, summary=summary, upto=job.memory_pending[-1].id
    )
    return replace(job, memory_summary=summary, memory_pending=())


def _split_history(job: ReplyJob) -> tuple[str, list[Turn]]:
    turns = [Turn(role=t.role, text=t.text) for t in job.history]
    for index in range(len(turns) - 1, -1, -1):
        if turns[index].role == "shopper":
            return turns[index].text, turns[:index]
    return "", turns


def _since_verified(turns: list[Turn]) -> list[Turn]:
    """The turns routing weighs, once the customer is known: an order question that was
    answered "verify it first" and is asked again after verifying is no repeat."""
    kept: list[Turn] = []
    for turn in turns:
        if turn.role == "bot" and tier0_asked_to_verify(turn.text):
            if kept and kept[-1].role == "shopper":
                kept.pop()
            continue
        kept.append(turn)
    return kept


def reply_facts(
    job: ReplyJob, text: str, *, general: bool = False, decision: RouteDecision | None = None
) -> ReplyFacts:
    orders_text = None
    if job.customer_id is not None and not general:
        rendering = order_context_rendering(
            order_context_build(customer_id=job.customer_id, message=text)
        )
        orders_text = rendering.text
        _order_context_rendered(rendering.tokens)
    products = (
        tuple(product_facts(decision.vector, intent=decision.intent))
        if decision is not None and decision.vector is not None
        else ()
    )
    return ReplyFacts(
        orders_text=orders_text, policies=policy_versions(), general=general, products=products
    )


def _order_context_rendered(tokens: int) -> None:
    global _order_context_tokens
    mean = _order_context_tokens
    _order_context_tokens = (
        float(tokens) if mean is None else mean + _ORDER_CONTEXT_SMOOTHING * (tokens - mean)
    )


def reply_messages(
    job: ReplyJob, decision: RouteDecision, facts: ReplyFacts
) -> list[dict[str, str]]:
    passages = (
        policy_passages(decision.vector, versions=facts.policies)
        if decision.vector is not None
        else []
    )
    return prompt_build(
        job=job,
        shop_name=settings.SHOP_NAME or "",
        orders_text=facts.orders_text,
        passages=passages,
        products=facts.products,
        general=facts.general,
    )


def _answer_tier0(job: ReplyJob, decision: RouteDecision, text: str) -> bool:
    assert job.customer_id is not None
    started = time.monotonic()
    answer = tier0_answer(
        intent=decision.intent, customer_id=job.customer_id, message=text, language=job.language
    )
    if answer is None:
        return False
    _answer_without_model(job, decision, answer.text, started=started, general=False)
    return True


def _tier1_cost_estimate(
    job: ReplyJob, decision: RouteDecision, *, general: bool = False
) -> Decimal:
    """What the cheapest tier-1 model would have charged for this message, estimated:
    the prompt a tier-1 reply would send, with the order context at its mean size (none
    for a general question, whose prompt holds nobody's data)."""
    cheapest = next(candidates(1), None)
    if cheapest is None:
        return Decimal(0)
    facts = ReplyFacts(
        orders_text=None if general else "", policies=policy_versions(), general=general
    )
    mean = _order_context_tokens
    orders = settings.ORDER_CONTEXT_TOKENS if mean is None else round(mean)
    tokens = prompt_tokens(reply_messages(job, decision, facts)) + (0 if general else orders)
    return Prices.of(cheapest[1]).cost(
        prompt_tokens=tokens, completion_tokens=TIER0_COUNTERFACTUAL_REPLY_TOKENS
    )


def written_answer_for(
    *, text: str, decision: RouteDecision, language: str, general: bool
) -> str | None:
    """The answer the shop wrote for this message's intent (``routing.answers``), when
    the message is plainly that intent: a general question (``general``, from
    ``question_is_general``: confident, a tier-1 intent, about nobody's records) that
    names no action beyond its intent and, unless the shop says the answer covers them,
    no specifics (a country, a product, a size, an amount)."""
    if not general or answer_frame(text, decision.intent):
        return None
    answer = written_answer(intent=decision.intent, language=language)
    if answer is None or (not answer.any_details and question_entities(text)):
        return None
    return answer.text


def _answer_without_model(
    job: ReplyJob,
    decision: RouteDecision,
    text: str,
    *,
    started: float | None = None,
    general: bool = True,
) -> None:
    """A ready answer that needs no model (from the customer's orders, the shop's written
    answer, the request to verify an order first), streamed like a live one. The shopper
    has it first; its ledger row follows: tier 0, with what tier 1 would have cost (most
    of this path's work). ``general``: a prompt for it would hold nobody's orders."""
    total_ms = _send_ready(job, text, time.monotonic() if started is None else started)
    if total_ms is not None:
        llm_call_record(
            tier=0,
            outcome=LLMCall.Outcome.TIER0,
            conversation_id=job.conversation_id,
            message_id=job.reply_id,
            avoided_cost_usd=_tier1_cost_estimate(job, decision, general=general),
            total_ms=total_ms,
        )


def _answer_llm(job: ReplyJob, decision: RouteDecision, text: str, *, general: bool) -> None:
    # --- answer cache (support_bot.cache) ---
    # An earlier answer to the same question, or the answer of the worker that is asking
    # the provider the same question right now; otherwise this worker asks and stores.
    # The cache key and the prompt are made from one read of the order context and the
    # policy versions. A first question that every shopper gets the same answer to is
    # written without the customer's data (the model sees no more of it than it needs),
    # so its answer is shared with every shopper.
    facts = reply_facts(job, text, general=general, decision=decision)
    query = cache_query(
        text=text,
        decision=decision,
        customer_id=job.customer_id,
        language=job.language,
        earlier_shopper_turns=shopper_turns(job.history) - 1,
        prompt_has_customer=job.customer_id is not None and not general,
        context_fingerprint=None
        if facts.orders_text is None
        else context_digest(facts.orders_text),
        policy_versions=facts.policies,
        products_fingerprint=products_digest(facts.products),
    )
    hit = cache_lookup(query)
    if hit is None:
        # A model will write it (or another worker's call is awaited): the shopper's
        # other tabs show the bot typing. A ready answer (tier 0, a hit) goes out at once,
        # and the widget that sent the message shows typing by itself.
        publish(job.group, {"type": "typing", "role": "bot"})
        with single_flight(query, owner=f"reply:{job.reply_id}") as hit:
            if hit is None:
                _answer_live(job, decision, query, facts)
                return
    _answer_cached(job, hit)


def _answer_cached(job: ReplyJob, hit: CachedAnswer) -> None:
    """Stream a cached answer like a live one, and put it in the ledger."""
    total_ms = _send_ready(job, hit.text, time.monotonic())
    if total_ms is not None:
        # After the answer, as for tier 0: the shopper does not wait for the books.
        llm_call_record(
            tier=hit.tier,
            outcome=LLMCall.Outcome.CACHE_HIT,
            conversation_id=job.conversation_id,
            message_id=job.reply_id,
            avoided_cost_usd=hit.cost_usd,
            total_ms=total_ms,
        )
        cache_served(conversation_id=job.conversation_id, entry_id=hit.entry_id)


# --- end answer cache ---


def _answer_live(
    job: ReplyJob, decision: RouteDecision, query: CacheQuery | None, facts: ReplyFacts
) -> None:
    stream = _Stream(job)
    try:
        answer = answer_stream(
            tier=decision.tier,
            messages=reply_messages(job, decision, facts),
            conversation_id=job.conversation_id,
            message_id=job.reply_id,
            on_piece=stream.piece,
            on_reset=stream.reset,
            stop=STOP_SEQUENCES,
        )
    except ReplyTakenOver:
        return
    except NoModelAvailable as unavailable:
        logger.warning("reply %s: no model could answer: %s", job.reply_id, unavailable)
        # No silent failure: a person takes over when no model can answer.
        _hand_off(job, ["budget_exhausted" if unavailable.budget_exhausted else "bot_unavailable"])
        return
    stream.flush()
    final = answer.text.strip() or stream.coalescer.text
    # Only a complete answer that reached the shopper is cached, and only one written
    # from the question alone: with earlier turns or their summary in the prompt, the
    # answer may quote them, and another conversation must never see them.
    if _finish(job, final) and not _prompt_has_earlier_turns(job):
        usage = answer.completion.usage
        cost = Prices.of(answer.model).cost(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
        )
        cache_store(
            query,
            answer=final,
            tier=answer.tier,
            cost_usd=cost,
            conversation_id=job.conversation_id,
            message_id=job.reply_id,
        )


def _prompt_has_earlier_turns(job: ReplyJob) -> bool:
    return bool(job.memory_summary) or bool(_split_history(job)[1])


def _send_ready(job: ReplyJob, text: str, started: float) -> int | None:
    """Stream a ready answer (tier 0, a written answer, a cache hit) and finish the reply:
    the milliseconds it took, or None when the reply was no longer ours to finish."""
    _Stream(job, beats=False).whole(text)
    total_ms = int((time.monotonic() - started) * 1000)
    return total_ms if _finish(job, text) else None


def _finish(job: ReplyJob, text: str) -> bool:
    if reply_finish(reply_id=job.reply_id, text=text, conversation_id=job.conversation_id):
        publish(
            job.group, {"type": "done", "message_id": job.reply_id, "role": "bot", "text": text}
        )
        return True
    return False


def _hand_off(job: ReplyJob, reasons: list[str]) -> None:
    # The bot's earlier answers in this conversation did not settle it: uncache them.
    cache_discard_conversation(conversation_id=job.conversation_id)
    conversation_escalate(conversation_id=job.conversation_id, reasons=reasons)


def reply_abandon(*, reply_id: int, reason: str) -> None:
    """The reply could not be written in time: a person takes over, never silence."""
    job = reply_job_get(reply_id=reply_id)
    _hand_off(job, [reason])
