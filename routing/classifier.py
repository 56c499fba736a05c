"""Intent classification by nearest example phrasings in embedding space.

The catalogue lives in the database (``Intent``/``IntentExample``), so a shop can add
phrasings in the admin; each process keeps the example vectors in memory and rebuilds
them when the catalogue changes (checked at most every ``RECHECK_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max, Min

from routing.embeddings import embed_many
from routing.models import Intent, IntentExample

RECHECK_SECONDS = 30.0
# An intent's score is the mean of its best matches: one lucky example is not enough.
TOP_MATCHES = 2


@dataclass(frozen=True)
class IntentScore:
    name: str
    tier: int
    tier0: bool
    escalate: bool
    score: float


@dataclass(frozen=True)
class _Index:
    version: tuple[object, ...]
    vectors: np.ndarray  # (examples, dims), unit length
    # (intents, most rows of one intent): each intent's example rows, padded with the
    # index of an extra row that always scores -inf, so one sort scores every intent.
    rows: np.ndarray
    counts: np.ndarray  # how many of an intent's entries in ``rows`` are real
    intents: tuple[Intent, ...]


_lock = threading.Lock()
_index: _Index | None = None
_checked_at = 0.0
# Vectors by text survive rebuilds: an edit in the admin embeds only what is new.
_vectors: dict[str, np.ndarray] = {}
# One message is classified by routing, then again by the answer cache (its intent's
# certainty) and by the next message's follow-up rule: the scores of the last messages,
# for the catalogue version they were computed with.
MEMO_SIZE = 256
_memo: OrderedDict[tuple[tuple[object, ...], bytes], tuple[IntentScore, ...]] = OrderedDict()


def _version() -> tuple[object, ...]:
    intents = Intent.objects.aggregate(n=Count("id"), at=Max("updated_at"), first=Min("id"))
    examples = IntentExample.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return (intents["n"], intents["at"], intents["first"], examples["n"], examples["at"])


def _build(version: tuple[object, ...]) -> _Index:
    intents = tuple(Intent.objects.order_by("id"))
    position = {intent.pk: i for i, intent in enumerate(intents)}
    rows = list(IntentExample.objects.values_list("intent_id", "text"))
    texts = [text for _, text in rows] + [intent.description for intent in intents]
    owners = [position[intent_id] for intent_id, _ in rows] + list(range(len(intents)))
    missing = list({text for text in texts if text not in _vectors})
    _vectors.update(zip(missing, embed_many(missing), strict=True))
    matrix = np.stack([_vectors[text] for text in texts]) if texts else np.zeros((0, 384))
    by_intent: list[list[int]] = [[] for _ in intents]
    for row, owner in enumerate(owners):
        by_intent[owner].append(row)
    widest = max((len(group) for group in by_intent), default=0)
    padded = np.full((len(intents), widest), len(texts), dtype=np.intp)
    for intent_row, group in enumerate(by_intent):
        padded[intent_row, : len(group)] = group
    counts = np.array([len(group) for group in by_intent], dtype=np.intp)
    return _Index(version, matrix.astype(np.float32), padded, counts, intents)


def _current() -> _Index:
    global _index, _checked_at
    with _lock:
        if _index is None or time.monotonic() - _checked_at > RECHECK_SECONDS:
            version = _version()
            if _index is None or _index.version != version:
                _index = _build(version)
            # An empty catalogue (a database being set up) is looked at again next time.
            _checked_at = time.monotonic() if _index.intents else 0.0
        return _index


def classify(vector: np.ndarray) -> Sequence[IntentScore]:
    """Every intent with its score, best first."""
    index = _current()
    if not index.intents:
        return ()
    key = (index.version, np.asarray(vector, dtype=np.float32).tobytes())
    with _lock:
        known = _memo.get(key)
        if known is not None:
            _memo.move_to_end(key)
            return known
    scores = _scores(index, vector)
    with _lock:
        _memo[key] = scores
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return scores


def _scores(index: _Index, vector: np.ndarray) -> tuple[IntentScore, ...]:
    similarities = np.append(index.vectors @ vector, np.float32(-np.inf))
    # Each intent's best TOP_MATCHES similarities, best first (the padding sorts last).
    best = -np.sort(-similarities[index.rows], axis=1)[:, :TOP_MATCHES]
    used = np.minimum(index.counts, TOP_MATCHES)
    real = np.arange(best.shape[1]) < used[:, None]
    totals = np.where(real, best, np.float32(0)).sum(axis=1, dtype=np.float32)
    means = totals / np.maximum(used, 1).astype(np.float32)
    scores = [
        IntentScore(
            name=intent.name,
            tier=intent.tier,
            tier0=intent.tier0,
            escalate=intent.escalate,
            score=float(means[position]) if used[position] else 0.0,
        )
        for position, intent in enumerate(index.intents)
    ]
    return tuple(sorted(scores, key=lambda s: s.score, reverse=True))


def catalogue_version() -> tuple[object, ...]:
    """The version of the intent catalogue that ``classify`` uses in this process (what
    a message was routed with); costs no query between rechecks."""
    return _current().version


def reset() -> None:
    """Forget the in-memory index (tests; the catalogue changed in this process)."""
    global _index
    with _lock:
        _index = None
        _memo.clear()
