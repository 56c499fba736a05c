"""The answer cache's API for the reply flow: build a query, look it up, store a
complete answer, and let one worker answer a question that many ask at once.

Every operation degrades to "no cache": a store that cannot be reached is skipped for a
few seconds and the reply goes to the provider as if the cache did not exist.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.conf import settings
from redis.exceptions import RedisError

from routing.classifier import classify
from routing.decisions import RouteDecision
from routing.policies import PolicyVersion
from support_bot.cache import keys
from support_bot.cache.entities import question_entities
from support_bot.cache.frames import answer_frame, frames_agree
from support_bot.cache.keys import SHARED, CacheQuery
from support_bot.cache.store import Entry, LocalStore, RedisStore, Store, new_entry_id

logger = logging.getLogger(__name__)

# After a connection error the store is left alone this long: one slow timeout, not one
# per message.
DOWN_FOR_S = 5.0
WAIT_POLL_S = 0.05
NEIGHBOURS = 3
MAX_ANSWER_CHARS = 8000
# Reasons that make the previous answer the wrong one to give again.
_NOT_AGAIN = frozenset({"follow_up", "repeated", "repeated_failure"})
# Words that point back into the conversation: with earlier turns, such a question's
# answer depends on them.
_ANAPHORA = re.compile(
    r"\b(it|its|that|this|those|these|them|they|one|same|other|above|again|also|too|"
    r"there|then|es|das|dies|diese|den|dem)\b",
    re.IGNORECASE,
)
_ERRORS = (RedisError, OSError)


@dataclass(frozen=True)
class CachedAnswer:
    entry_id: str
    text: str
    question: str
    tier: int
    cost_usd: Decimal
    similarity: float
    exact: bool


def _answer(entry: Entry, similarity: float, exact: bool) -> CachedAnswer:
    return CachedAnswer(
        entry_id=entry.entry_id,
        text=entry.answer,
        question=entry.question,
        tier=entry.tier,
        cost_usd=entry.cost_usd,
        similarity=similarity,
        exact=exact,
    )


# --- the store for this process -----------------------------------------------------

_stores: dict[str | None, Store] = {}
_down_until: dict[str | None, float] = {}
_stores_lock = threading.Lock()


def cache_store_backend() -> Store | None:
    """This process's store for the configured URL, or None while it is unreachable."""
    url = settings.CACHE_REDIS_URL
    with _stores_lock:
        if _down_until.get(url, 0.0) > time.monotonic():
            return None
        if url not in _stores:
            _stores[url] = RedisStore(url) if url else LocalStore()
        return _stores[url]


def _unreachable(error: Exception) -> None:
    logger.warning("answer cache unreachable, bypassing it: %s", error)
    with _stores_lock:
        _down_until[settings.CACHE_REDIS_URL] = time.monotonic() + DOWN_FOR_S


def cache_reset() -> None:
    """Forget this process's stores and indexes (tests)."""
    with _stores_lock:
        _stores.clear()
        _down_until.clear()


# --- building a query ---------------------------------------------------------------


def uncacheable_reason(
    *, text: str, decision: RouteDecision, earlier_shopper_turns: int = 0
) -> str | None:
    """Why an answer to this message must not be cached or served from the cache."""
    if decision.tier0 or decision.tier < 1:
        return "tier 0 answers are free and exact already"
    if decision.escalate:
        return "a person answers it"
    if decision.vector is None or not text.strip():
        return "nothing to match on"
    if _NOT_AGAIN & set(decision.reasons):
        return "the shopper is following up or repeating"
    if earlier_shopper_turns and _ANAPHORA.search(text):
        return "it refers to earlier turns of the conversation"
    return None


def cache_query(
    *,
    text: str,
    decision: RouteDecision,
    customer_id: int | None,
    language: str,
    earlier_shopper_turns: int = 0,
    prompt_has_customer: bool | None = None,
    context_fingerprint: str | None = None,
    policy_versions: Sequence[PolicyVersion] | None = None,
    products_fingerprint: str = "",
) -> CacheQuery | None:
    """The cache's view of one shopper message, or None when it is not cacheable.

    ``prompt_has_customer``: whether the prompt for this message holds the customer's
    data (by default: whenever the shopper is signed in, as ``prompt_build`` does).
    ``context_fingerprint`` and ``policy_versions``: what the caller has already read for
    the prompt (``keys.context_digest`` of its order context, ``policy_versions()``), so
    that they are not read twice. ``products_fingerprint``: ``keys.products_digest`` of
    the product facts in the prompt, so that a changed price or stock is a new scope.
    """
    if not settings.CACHE_ENABLED or uncacheable_reason(
        text=text, decision=decision, earlier_shopper_turns=earlier_shopper_turns
    ):
        return None
    assert decision.vector is not None
    scope = keys.cache_scope(
        intent=decision.intent,
        customer_id=customer_id,
        prompt_has_customer=customer_id is not None
        if prompt_has_customer is None
        else prompt_has_customer,
    )
    context = None
    if scope != SHARED:
        assert customer_id is not None
        context = context_fingerprint or keys.context_fingerprint(
            customer_id=customer_id, text=text
        )
    vector = np.asarray(decision.vector, dtype=np.float32)
    semantic, confidence, margin, keyed = _answer_key(decision, vector)
    return CacheQuery(
        text=text.strip(),
        normalized=keys.text_normalize(text),
        intent=f"{decision.intent}@{decision.tier}",
        language=language or "en",
        scope=scope,
        scope_key=keys.scope_key(
            scope=scope,
            language=language,
            policies=keys.policy_fingerprint(policy_versions),
            context=context,
            products=products_fingerprint,
        ),
        entities=question_entities(text),
        vector=vector.tobytes(),
        semantic=semantic,
        keyed=keyed,
        confidence=confidence,
        margin=margin,
        frame=answer_frame(text, decision.intent),
    )


def question_is_general(*, text: str, decision: RouteDecision) -> bool:
    """A question every shopper gets the same answer to (``keys.answer_is_general``): the
    reply is written without the customer's data, and its answer is shared."""
    if decision.vector is None or uncacheable_reason(text=text, decision=decision):
        return False
    keyed = _answer_key(decision, np.asarray(decision.vector, dtype=np.float32))[3]
    return keys.answer_is_general(
        intent=decision.intent, entities=question_entities(text), keyed=keyed
    )


def _answer_key(decision: RouteDecision, vector: np.ndarray) -> tuple[bool, float, float, bool]:
    """(semantic, confidence, margin, keyed): whether a semantic hit may serve this
    question, how sure its intent is, and whether its answer is filed under the intent."""
    semantic = "low_confidence" not in decision.reasons
    confidence, margin = _intent_certainty(decision.intent, vector)
    keyed = keys.answer_keyed(
        semantic=semantic, tier=decision.tier, confidence=confidence, margin=margin
    )
    return semantic, confidence, margin, keyed


def _intent_certainty(intent: str, vector: np.ndarray) -> tuple[float, float]:
    """The routed intent's score and its lead over the runner-up; (0, 0) when routing
    chose another intent than the classifier's best (a follow-up took the previous one)."""
    scores = classify(vector)
    if not scores or scores[0].name != intent:
        return 0.0, 0.0
    runner_up = scores[1].score if len(scores) > 1 else 0.0
    return scores[0].score, scores[0].score - runner_up


def answers_match(*, stored: CacheQuery, asked: CacheQuery, similarity: float) -> tuple[bool, str]:
    """Whether the answer stored for ``stored`` may be served for ``asked``, and why."""
    if stored.scope_key != asked.scope_key:
        return False, "different scope (customer, order context, language or policies)"
    if stored.intent != asked.intent:
        return False, f"different intent ({stored.intent} vs {asked.intent})"
    if stored.entities != asked.entities:
        differing = sorted(stored.entities ^ asked.entities)
        return False, f"different entities: {', '.join(differing)}"
    if stored.normalized == asked.normalized:
        return True, "exact"
    if stored.keyed and asked.keyed and stored.frame == asked.frame:
        return True, "same answer-intent"
    if not (stored.semantic and asked.semantic):
        return False, "intent too uncertain for a semantic match"
    if similarity < float(settings.CACHE_SIMILARITY):
        return False, f"similarity {similarity:.3f} below {settings.CACHE_SIMILARITY}"
    if not frames_agree(stored.text, asked.text):
        return False, "asks for a different action"
    return True, "semantic"


# --- lookups and stores -------------------------------------------------------------


def cache_lookup(query: CacheQuery | None) -> CachedAnswer | None:
    """A cached answer that may be served for ``query``: exact first, then semantic."""
    store = cache_store_backend() if query is not None else None
    if store is None or query is None:
        return None
    try:
        found = _find(store, query)
        store.count("lookups")
        if found is not None:
            store.count("hits_exact" if found.exact else "hits_semantic")
            store.touch(found.entry_id)
        return found
    except _ERRORS as error:
        _unreachable(error)
        return None


def _find(store: Store, query: CacheQuery) -> CachedAnswer | None:
    entry = store.get_exact(query.exact_key)
    if entry is not None:
        if not query.keyed:
            return _answer(entry, 1.0, exact=True)
        similarity = float(np.frombuffer(entry.vector, np.float32) @ _vector(query))
        exact = keys.text_normalize(entry.question) == query.normalized
        return _answer(entry, similarity, exact=exact)
    if not query.semantic:
        return None
    store.sync()
    vector = _vector(query)
    for neighbour in store.index.search(query.partition, vector, k=NEIGHBOURS):
        if neighbour.similarity < float(settings.CACHE_SIMILARITY):
            break
        entry = store.get(neighbour.entry_id)
        if entry is None:  # expired or evicted since this worker's last sync
            store.index.remove(neighbour.entry_id)
            continue
        if entry.partition == query.partition and frames_agree(entry.question, query.text):
            return _answer(entry, neighbour.similarity, exact=False)
    return None


def _vector(query: CacheQuery) -> np.ndarray:
    return np.frombuffer(query.vector, dtype=np.float32)


def cache_store(
    query: CacheQuery | None,
    *,
    answer: str,
    tier: int,
    cost_usd: Decimal,
    conversation_id: int | None = None,
    message_id: int | None = None,
) -> str | None:
    """Keep a complete, delivered bot answer; the id of the entry now holding the question."""
    answer = answer.strip()
    store = cache_store_backend() if query is not None else None
    if store is None or query is None or not answer or len(answer) > MAX_ANSWER_CHARS:
        return None
    now = time.time()
    entry = Entry(
        entry_id=new_entry_id(),
        partition=query.partition,
        exact_key=query.exact_key,
        scope=query.scope,
        intent=query.intent,
        question=query.text[:2000],
        answer=answer,
        tier=tier,
        cost_usd=cost_usd,
        created_at=now,
        expires_at=now + settings.CACHE_TTL_SECONDS,
        vector=query.vector,
        conversation_id=conversation_id,
        message_id=message_id,
    )
    try:
        held = store.put(entry, max_entries=settings.CACHE_MAX_ENTRIES)
        if conversation_id is not None:
            store.remember(conversation_id, held)
        return held
    except _ERRORS as error:
        _unreachable(error)
        return None


def cache_served(*, conversation_id: int, entry_id: str) -> None:
    """Note that a conversation was given this entry (see ``cache_discard_conversation``)."""
    store = cache_store_backend()
    if store is None:
        return
    try:
        store.remember(conversation_id, entry_id)
    except _ERRORS as error:
        _unreachable(error)


def cache_discard_conversation(*, conversation_id: int) -> int:
    """Drop the answers this conversation was given or produced: it is going to a person,
    so they did not settle the question."""
    store = cache_store_backend()
    if store is None:
        return 0
    try:
        return store.forget_conversation(conversation_id)
    except _ERRORS as error:
        _unreachable(error)
        return 0


@contextmanager
def single_flight(
    query: CacheQuery | None, owner: str | None = None
) -> Iterator[CachedAnswer | None]:
    """Let one worker ask the provider while the others with the same question wait.

    Yields None to the worker that should answer (and then ``cache_store`` its answer),
    or the answer another worker produced meanwhile. A waiter whose leader fails, or
    takes longer than ``CACHE_WAIT_SECONDS``, gets None and answers itself. ``owner``
    names the reply: its redelivery takes the lock its dead worker left behind.
    """
    store = cache_store_backend() if query is not None else None
    if store is None or query is None:
        yield None
        return
    key = query.exact_key
    try:
        token = store.lock(key, settings.LLM_TOTAL_TIMEOUT + 10, owner=owner)
        ready = store.get_exact(key) if token is not None else None
    except _ERRORS as error:
        _unreachable(error)
        yield None
        return
    if token is None:
        yield _wait(store, query)
        return
    try:
        yield None if ready is None else _answer(ready, 1.0, exact=True)
    finally:
        try:
            store.unlock(key, token)
        except _ERRORS as error:
            _unreachable(error)


def _wait(store: Store, query: CacheQuery) -> CachedAnswer | None:
    deadline = time.monotonic() + settings.CACHE_WAIT_SECONDS
    try:
        store.count("waits")
        while time.monotonic() < deadline:
            entry = store.get_exact(query.exact_key)
            if entry is not None:
                store.count("hits_waited")
                store.touch(entry.entry_id)
                return _answer(entry, 1.0, exact=True)
            if not store.locked(query.exact_key):
                entry = store.get_exact(query.exact_key)
                return None if entry is None else _answer(entry, 1.0, exact=True)
            time.sleep(WAIT_POLL_S)
    except _ERRORS as error:
        _unreachable(error)
    return None


def cache_flush(*, scope: str | None) -> int:
    """Drop cached answers: ``"shared"``, ``"customer:<id>"``, or everything (None)."""
    store = cache_store_backend()
    if store is None:
        return 0
    try:
        return store.flush(scope)
    except _ERRORS as error:
        _unreachable(error)
        return 0


def shopper_turns(history: Sequence[object]) -> int:
    """How many earlier turns of a conversation were the shopper's."""
    return sum(1 for turn in history if getattr(turn, "role", "") == "shopper")
