"""Retrieving the shop policy passages relevant to a message.

Policies are split into paragraphs; each is embedded once per policy *version*, so an
edit in the admin changes retrieval on the next message (every message checks versions, a
one-row-per-policy query that the answer cache's filing shares: ``policy_versions``). The
message's own vector comes from routing, embedded once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db import connection

from orders.models import Policy
from routing.embeddings import embed_many

MIN_SIMILARITY = 0.25


@dataclass(frozen=True)
class Passage:
    policy_key: str
    title: str
    text: str
    version: int


@dataclass(frozen=True)
class PolicyVersion:
    policy_id: int
    key: str
    version: int


_VERSIONS_SQL = f'SELECT "id", "key", "version" FROM "{Policy._meta.db_table}" ORDER BY "id"'  # noqa: S608
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


def policy_versions() -> tuple[PolicyVersion, ...]:
    """Every policy's current version, read once per message: one small query, written
    out (building it through the ORM cost a worker more than running it)."""
    with connection.cursor() as cursor:
        cursor.execute(_VERSIONS_SQL)
        return tuple(PolicyVersion(policy_id, key, version) for policy_id, key, version in cursor)


def policy_passages(
    vector: np.ndarray, *, limit: int = 2, versions: Sequence[PolicyVersion] | None = None
) -> list[Passage]:
    """The passages most similar to the message, best first.

    ``versions``: this message's ``policy_versions()``, when the caller has read them.
    """
    scored: list[tuple[float, Passage]] = []
    for current in policy_versions() if versions is None else versions:
        passages, vectors = _passages(current.policy_id, current.version)
        for passage, similarity in zip(passages, vectors @ vector, strict=True):
            if similarity >= MIN_SIMILARITY:
                scored.append((float(similarity), passage))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [passage for _, passage in scored[:limit]]
