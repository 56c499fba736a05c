"""Retrieving the shop policy passages relevant to a message.

Policies are split into paragraphs; each is embedded once per policy *version*, so an
edit in the admin changes retrieval on the next message (every call checks versions, a
one-row-per-policy query). The message's own vector comes from routing, embedded once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from orders.models import Policy
from routing.embeddings import embed_many

MIN_SIMILARITY = 0.25


@dataclass(frozen=True)
class Passage:
    policy_key: str
    title: str
    text: str
    version: int


_lock = threading.Lock()
_cache: dict[tuple[int, int], tuple[list[Passage], np.ndarray]] = {}


def _paragraphs(body: str) -> list[str]:
    parts = [p.strip() for p in body.replace("\r\n", "\n").split("\n\n")]
    return [p for p in parts if len(p) > 20] or [body.strip()]


def _passages(policy_id: int, version: int) -> tuple[list[Passage], np.ndarray]:
    key = (policy_id, version)
    with _lock:
        if key in _cache:
            return _cache[key]
    policy = Policy.objects.get(pk=policy_id)
    passages = [
        Passage(policy.key, policy.title, text, policy.version) for text in _paragraphs(policy.body)
    ]
    vectors = embed_many([f"{policy.title}: {p.text}" for p in passages])
    with _lock:
        for stale in [k for k in _cache if k[0] == policy_id]:
            del _cache[stale]
        _cache[key] = (passages, vectors)
    return passages, vectors


def policy_passages(vector: np.ndarray, *, limit: int = 2) -> list[Passage]:
    """The passages most similar to the message, best first."""
    scored: list[tuple[float, Passage]] = []
    for policy_id, version in Policy.objects.values_list("id", "version"):
        passages, vectors = _passages(policy_id, version)
        for passage, similarity in zip(passages, vectors @ vector, strict=True):
            if similarity >= MIN_SIMILARITY:
                scored.append((float(similarity), passage))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [passage for _, passage in scored[:limit]]
