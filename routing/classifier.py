"""Intent classification by nearest example phrasings in embedding space.

The catalogue lives in the database (``Intent``/``IntentExample``), so a shop can add
phrasings in the admin; each process keeps the example vectors in memory and rebuilds
them when the catalogue changes (checked at most every ``RECHECK_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max

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
    owners: np.ndarray  # example row -> intent position
    intents: tuple[Intent, ...]


_lock = threading.Lock()
_index: _Index | None = None
_checked_at = 0.0
# Vectors by text survive rebuilds: an edit in the admin embeds only what is new.
_vectors: dict[str, np.ndarray] = {}


def _version() -> tuple[object, ...]:
    intents = Intent.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    examples = IntentExample.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return (intents["n"], intents["at"], examples["n"], examples["at"])


def _build(version: tuple[object, ...]) -> _Index:
    intents = tuple(Intent.objects.order_by("id"))
    position = {intent.pk: i for i, intent in enumerate(intents)}
    rows = list(IntentExample.objects.values_list("intent_id", "text"))
    texts = [text for _, text in rows] + [intent.description for intent in intents]
    owners = [position[intent_id] for intent_id, _ in rows] + list(range(len(intents)))
    missing = list({text for text in texts if text not in _vectors})
    _vectors.update(zip(missing, embed_many(missing), strict=True))
    matrix = np.stack([_vectors[text] for text in texts]) if texts else np.zeros((0, 384))
    return _Index(version, matrix.astype(np.float32), np.array(owners, dtype=np.int32), intents)


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


def classify(vector: np.ndarray) -> list[IntentScore]:
    """Every intent with its score, best first."""
    index = _current()
    if not index.intents:
        return []
    similarities = index.vectors @ vector
    scores = []
    for position, intent in enumerate(index.intents):
        mine = np.sort(similarities[index.owners == position])[::-1][:TOP_MATCHES]
        scores.append(
            IntentScore(
                name=intent.name,
                tier=intent.tier,
                tier0=intent.tier0,
                escalate=intent.escalate,
                score=float(mine.mean()) if mine.size else 0.0,
            )
        )
    return sorted(scores, key=lambda s: s.score, reverse=True)


def reset() -> None:
    """Forget the in-memory index (tests; the catalogue changed in this process)."""
    global _index
    with _lock:
        _index = None
