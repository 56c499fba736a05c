"""Would the answer cached for one message be served for another? For ``cache_eval`` and
``bench/cache.py``: the same queries and the same ``answers_match`` as the reply flow, for
an anonymous shopper's first message (one scope for both texts)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from routing.decisions import route_decide
from routing.embeddings import embed_many
from support_bot.cache.keys import CacheQuery
from support_bot.cache.services import answers_match, cache_query, uncacheable_reason

SWEEP = tuple(round(0.50 + 0.02 * step, 2) for step in range(25))
CONFIDENCE_SWEEP = tuple(round(0.48 + 0.02 * step, 2) for step in range(17))
MARGIN_SWEEP = tuple(round(0.01 * step, 2) for step in range(13))


@dataclass(frozen=True)
class PairVerdict:
    similarity: float
    hit: bool
    reason: str
    # Every guard of the cosine rule but the similarity threshold passes: a hit at a low
    # enough threshold.
    eligible: bool
    exact: bool
    # Same scope, intent, entities and actions, both routed with confidence: a hit by the answer
    # key once both texts clear the intent's confidence and margin requirement.
    same_answer_key: bool = False
    confidence: float = 0.0  # the lower of the two texts' intent scores
    margin: float = 0.0  # the lower of the two texts' leads over their runner-up

    def hit_at(
        self, threshold: float, *, confidence: float | None = None, margin: float | None = None
    ) -> bool:
        confidence = configured_confidence() if confidence is None else confidence
        margin = configured_margin() if margin is None else margin
        keyed = self.same_answer_key and self.confidence >= confidence and self.margin >= margin
        return self.exact or keyed or (self.eligible and self.similarity >= threshold)


def _queries(texts: Sequence[str]) -> tuple[dict[str, CacheQuery | str], dict[str, np.ndarray]]:
    unique = list(dict.fromkeys(texts))
    vectors = dict(zip(unique, embed_many(unique), strict=True))
    queries: dict[str, CacheQuery | str] = {}
    for text in unique:
        decision = route_decide(text=text, vector=vectors[text])
        query = cache_query(text=text, decision=decision, customer_id=None, language="en")
        queries[text] = query or (uncacheable_reason(text=text, decision=decision) or "disabled")
    return queries, vectors


def pair_verdicts(pairs: Sequence[tuple[str, str]]) -> list[PairVerdict]:
    queries, vectors = _queries([text for pair in pairs for text in pair])
    verdicts = []
    for text_a, text_b in pairs:
        similarity = float(vectors[text_a] @ vectors[text_b])
        stored, asked = queries[text_a], queries[text_b]
        if isinstance(stored, str) or isinstance(asked, str):
            reason = f"not cacheable: {stored if isinstance(stored, str) else asked}"
            verdicts.append(PairVerdict(similarity, False, reason, False, False))
            continue
        hit, reason = answers_match(stored=stored, asked=asked, similarity=similarity)
        eligible, _ = answers_match(
            stored=dataclasses.replace(stored, keyed=False),
            asked=dataclasses.replace(asked, keyed=False),
            similarity=1.0,
        )
        same_key = (
            stored.semantic
            and asked.semantic
            and stored.partition == asked.partition
            and stored.frame == asked.frame
        )
        verdicts.append(
            PairVerdict(
                similarity,
                hit,
                reason,
                eligible,
                reason == "exact",
                same_answer_key=same_key,
                confidence=min(stored.confidence, asked.confidence),
                margin=min(stored.margin, asked.margin),
            )
        )
    return verdicts


@dataclass(frozen=True)
class Rates:
    threshold: float
    hit_rate: float  # of the pairs labelled 1 (same answer)
    false_hit_rate: float  # of the pairs labelled 0
    hits: int
    false_hits: int
    confidence: float = 0.0
    margin: float = 0.0


def rates_at(
    verdicts: Sequence[PairVerdict],
    labels: Sequence[int],
    threshold: float,
    *,
    confidence: float | None = None,
    margin: float | None = None,
) -> Rates:
    confidence = configured_confidence() if confidence is None else confidence
    margin = configured_margin() if margin is None else margin
    hits = [v.hit_at(threshold, confidence=confidence, margin=margin) for v in verdicts]
    same = [hit for hit, label in zip(hits, labels, strict=True) if label == 1]
    other = [hit for hit, label in zip(hits, labels, strict=True) if label == 0]
    return Rates(
        threshold=threshold,
        hit_rate=sum(same) / len(same) if same else 0.0,
        false_hit_rate=sum(other) / len(other) if other else 0.0,
        hits=sum(same),
        false_hits=sum(other),
        confidence=confidence,
        margin=margin,
    )


def threshold_sweep(verdicts: Sequence[PairVerdict], labels: Sequence[int]) -> list[Rates]:
    """The cosine threshold swept, at the configured intent confidence and margin."""
    return [rates_at(verdicts, labels, threshold) for threshold in SWEEP]


def intent_sweep(
    verdicts: Sequence[PairVerdict],
    labels: Sequence[int],
    *,
    thresholds: Sequence[float] | None = None,
) -> list[Rates]:
    """The answer key's confidence and margin swept, with the cosine threshold of the
    fallback (by default the configured one): every combination."""
    thresholds = (configured_threshold(),) if thresholds is None else thresholds
    label = np.array(labels) == 1
    similarity = np.array([v.similarity for v in verdicts])
    exact = np.array([v.exact for v in verdicts])
    eligible = np.array([v.eligible for v in verdicts])
    keyed = np.array([v.same_answer_key for v in verdicts])
    score = np.array([v.confidence for v in verdicts])
    lead = np.array([v.margin for v in verdicts])
    same, other = max(int(label.sum()), 1), max(int((~label).sum()), 1)
    rates = []
    for threshold in thresholds:
        cosine = exact | (eligible & (similarity >= threshold))
        for confidence in CONFIDENCE_SWEEP:
            for margin in MARGIN_SWEEP:
                hit = cosine | (keyed & (score >= confidence) & (lead >= margin))
                hits, false_hits = int((hit & label).sum()), int((hit & ~label).sum())
                rates.append(
                    Rates(
                        threshold,
                        hits / same,
                        false_hits / other,
                        hits,
                        false_hits,
                        confidence,
                        margin,
                    )
                )
    return rates


def best_rates(
    verdicts: Sequence[PairVerdict],
    labels: Sequence[int],
    *,
    max_false: float = 0.01,
    sweep: Sequence[Rates] | None = None,
) -> Rates | None:
    """The highest hit rate of a sweep (by default the cosine threshold's) whose
    false-hit rate is at most ``max_false``."""
    rates = threshold_sweep(verdicts, labels) if sweep is None else sweep
    fine = [r for r in rates if r.false_hit_rate <= max_false]
    return (
        max(fine, key=lambda r: (r.hit_rate, -r.threshold, r.confidence, r.margin))
        if fine
        else None
    )


def configured_threshold() -> float:
    return float(settings.CACHE_SIMILARITY)


def configured_confidence() -> float:
    return float(settings.CACHE_INTENT_CONFIDENCE)


def configured_margin() -> float:
    return float(settings.CACHE_INTENT_MARGIN)
