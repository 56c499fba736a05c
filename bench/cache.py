"""Answer-cache benchmark on externally written shopper messages.

    python bench/cache.py [--eval ../shared/eval] [--pairs 1500] [--entries 100000]
                          [--sections matching,latency,replay,shop]

1. Matching. Labelled pairs from Bitext (dev), HINT3 CureKart and SOFMattress (train) and
   Banking77 (train): the same label and the same entities = the same answer (label 1);
   label 0 = hard negatives: the other-label message with the most words in common, the
   other-label message nearest in embedding space, and the same label with different
   entities (Bitext's entity_value column, numbers in the text, and each such message
   with its entity swapped for another value of the same type). Prints, per source and
   for the e-commerce sources together, the hit rate at the configured threshold and the
   best hit rate at <= 1 % false hits, against plain cosine; and cross-entity hits.
2. Latency of a lookup after the embedding, at ``--entries`` cached answers: the vectors
   are the eval messages' own embeddings plus small noise, filed like real entries (many
   partitions), and once more all in one partition (the worst case).
3. Cost on a replay with realistic repetition, each source its own shop with its own cache:
   messages drawn with Zipf-like popularity, paraphrases included; every miss is answered
   (priced like bench/routing.py) and stored. Prints the wrong hits (the answer stored for
   another label or other entities) and the commonest of them.
4. Matching once a shop has added its own intents in the admin: per e-commerce source,
   half of each label's messages become an intent's phrasings, and pairs are built from
   the other half, matched with and without those intents.

The data stays where it is; nothing is copied into the project.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded import embedded_django  # noqa: E402  (bench/, beside this file)
from eval_labels import PERSON_LABELS, TIERS, popular_stream  # noqa: E402

PROMPT_TOKENS = 800
REPLY_TOKENS = 150
ECOMMERCE = ("bitext", "curekart", "sofmattress")
# The cosine fallback's thresholds swept with the answer key's score and margin.
FALLBACK_THRESHOLDS = (0.86, 0.88, 0.90, 0.92, 0.94, 0.96, 1.01)
_WORDS = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"\d+")


class Row:
    def __init__(self, source: str, text: str, label: str, kind: str = "", value: str = ""):
        self.source, self.text, self.label, self.kind, self.value = source, text, label, kind, value
        digits = {d.lstrip("0") or "0" for d in _DIGITS.findall(text)}
        # What the answer depends on: the gold entity and any number in the message.
        # Values only: the source annotates the same amount on one message and not another.
        self.entities = frozenset({value.lower().lstrip("#0")} if value else set()) | digits
        self.words = frozenset(_WORDS.findall(text.lower()))


def load(eval_dir: Path, banking: int, seed: int) -> list[Row]:
    rows = []
    with (eval_dir / "bitext_dev.csv").open() as handle:
        for r in csv.DictReader(handle):
            rows.append(
                Row("bitext", r["instruction"], r["intent"], r["entity_type"], r["entity_value"])
            )
    for name, source in (
        ("curekart_train.csv", "curekart"),
        ("sofmattress_train.csv", "sofmattress"),
    ):
        with (eval_dir / name).open() as handle:
            rows += [
                Row(source, r["sentence"], r["label"])
                for r in csv.DictReader(handle)
                if r["label"] != "NO_NODES_DETECTED"
            ]
    with (eval_dir / "banking77_train.csv").open() as handle:
        bank = [Row("banking77", r["text"], r["category"]) for r in csv.DictReader(handle)]
    rows += random.Random(seed).sample(bank, min(banking, len(bank)))
    return rows


def build_pairs(rows: list[Row], per_source: int, seed: int) -> list[tuple[str, str, str, int]]:
    """(source, text_a, text_b, label) with label 1 = same answer."""
    from routing.embeddings import embed_many

    rng = random.Random(seed)
    pairs: list[tuple[str, str, str, int]] = []
    by_source: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_source[row.source].append(row)
    for source, members in by_source.items():
        groups: dict[tuple[str, frozenset[str]], list[Row]] = defaultdict(list)
        for row in members:
            groups[(row.label, row.entities)].append(row)
        same = [g for g in groups.values() if len(g) > 1]
        for _ in range(per_source):
            a, b = rng.sample(rng.choice(same), 2)
            pairs.append((source, a.text, b.text, 1))
        vectors = embed_many([row.text for row in members])
        similarity = vectors @ vectors.T
        sample = rng.sample(range(len(members)), min(per_source, len(members)))
        for i in sample:
            row = members[i]
            other = [j for j in range(len(members)) if members[j].label != row.label]
            overlap = max(
                other,
                key=lambda j: (
                    len(row.words & members[j].words) / len(row.words | members[j].words or {""})
                ),
            )
            nearest = max(other, key=lambda j: similarity[i, j])
            pairs += [
                (source, row.text, members[overlap].text, 0),
                (source, row.text, members[nearest].text, 0),
            ]
        pairs += _entity_negatives(members, rng, per_source)
    return pairs


def _entity_negatives(
    members: list[Row], rng: random.Random, limit: int
) -> list[tuple[str, str, str, int]]:
    """Same label, different entity: real pairs, and each message with its entity swapped."""
    found = []
    by_label: dict[tuple[str, str], list[Row]] = defaultdict(list)
    values: dict[str, set[str]] = defaultdict(set)
    for row in members:
        if row.value:
            by_label[(row.label, row.kind)].append(row)
            values[row.kind].add(row.value)
    for group in by_label.values():
        for _ in range(min(limit // max(len(by_label), 1) + 1, len(group))):
            a, b = rng.sample(group, 2) if len(group) > 1 else (group[0], group[0])
            if a.value.lower() != b.value.lower():
                found.append((a.source, a.text, b.text, 0))
            if a.value in a.text:
                swap = rng.choice(sorted(values[a.kind] - {a.value}) or [a.value])
                if swap != a.value:
                    found.append((a.source, a.text, a.text.replace(a.value, swap), 0))
    return found


def matching(pairs: list[tuple[str, str, str, int]]) -> None:
    from support_bot.cache.entities import question_entities
    from support_bot.cache.evaluation import (
        SWEEP,
        best_rates,
        configured_confidence,
        configured_margin,
        configured_threshold,
        intent_sweep,
        pair_verdicts,
        rates_at,
    )

    started = time.monotonic()
    verdicts = pair_verdicts([(a, b) for _, a, b, _ in pairs])
    print(f"# 1. matching ({len(pairs)} pairs, {time.monotonic() - started:.0f} s)\n")
    threshold = configured_threshold()
    print(
        f"configured: answer key at intent score >= {configured_confidence():.2f} and margin "
        f">= {configured_margin():.2f}; otherwise cosine >= {threshold:.2f} (same intent, "
        "entities and action)\n"
    )
    print(
        "| source | pairs (1/0) | hit rate @ configured | false hits @ configured | best hit rate @ <=1% false | score / margin / cosine | cosine rule alone @ <=1% false | plain cosine @ <=1% false | cross-entity hits @ configured |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    groups = {
        source: [i for i, p in enumerate(pairs) if p[0] == source]
        for source in dict.fromkeys(p[0] for p in pairs)
    }
    groups["e-commerce (3 sources)"] = [i for i, p in enumerate(pairs) if p[0] in ECOMMERCE]
    labels_ecommerce = [pairs[i][3] for i in groups["e-commerce (3 sources)"]]
    sweeps = {}
    for name, index in groups.items():
        vs = [verdicts[i] for i in index]
        labels = [pairs[i][3] for i in index]
        now = rates_at(vs, labels, threshold)
        sweeps[name] = intent_sweep(vs, labels, thresholds=FALLBACK_THRESHOLDS)
        best = best_rates(vs, labels, sweep=sweeps[name])
        # The cosine rule alone: no answer key (a confidence nothing reaches).
        alone = best_rates(
            vs, labels, sweep=[rates_at(vs, labels, t, confidence=9.0) for t in SWEEP]
        )
        cosine = _plain_cosine(vs, labels)
        cross = sum(
            1
            for i in index
            if pairs[i][3] == 0
            and verdicts[i].hit_at(threshold)
            and question_entities(pairs[i][1]) != question_entities(pairs[i][2])
        )
        cross_gold = sum(
            1
            for i in index
            if pairs[i][3] == 0
            and verdicts[i].hit_at(threshold)
            and _gold_entities_differ(pairs[i])
        )
        print(
            f"| {name} | {labels.count(1)}/{labels.count(0)} | {now.hit_rate:.1%} | {now.false_hit_rate:.2%} "
            f"| {best.hit_rate if best else 0:.1%} | {_setting(best)} "
            f"| {alone.hit_rate if alone else 0:.1%} @ {alone.threshold if alone else float('nan'):.2f} "
            f"| {cosine:.1%} | {cross + cross_gold} |"
        )
    _sweep_table(sweeps["e-commerce (3 sources)"], labels_ecommerce)


def _setting(rates: object) -> str:
    if rates is None:
        return "none"
    return f"{rates.confidence:.2f} / {rates.margin:.2f} / {rates.threshold:.2f}"  # type: ignore[attr-defined]


def _sweep_table(sweep: list, labels: list[int]) -> None:
    """Hit and false-hit rates of the answer key on the e-commerce pairs, at the cosine
    threshold of the best setting."""
    fine = [r for r in sweep if r.false_hit_rate <= 0.01]
    threshold = max(fine, key=lambda r: r.hit_rate).threshold if fine else sweep[0].threshold
    sweep = [r for r in sweep if r.threshold == threshold]
    margins = sorted({r.margin for r in sweep})[::2]
    scores = sorted({r.confidence for r in sweep})[::2]
    by = {(r.confidence, r.margin): r for r in sweep}
    print(
        f"\ne-commerce pairs ({labels.count(1)}/{labels.count(0)}), answer key swept at cosine "
        f"fallback {threshold:.2f}: hit rate / false-hit rate by intent score (rows) and margin "
        "(columns)\n"
    )
    print("| score | " + " | ".join(f"m {m:.2f}" for m in margins) + " |")
    print("|---|" + "---|" * len(margins))
    for score in scores:
        cells = [
            f"{by[(score, m)].hit_rate:.1%} / {by[(score, m)].false_hit_rate:.2%}" for m in margins
        ]
        print(f"| {score:.2f} | " + " | ".join(cells) + " |")


_ROWS: dict[str, Row] = {}


def _gold_entities_differ(pair: tuple[str, str, str, int]) -> bool:
    a, b = _ROWS.get(pair[1]), _ROWS.get(pair[2])
    if a is None or b is None:  # a swapped message: its entity differs by construction
        return True
    return a.entities != b.entities


def _plain_cosine(verdicts: list, labels: list[int]) -> float:
    best = 0.0
    for threshold in np.arange(0.5, 1.0, 0.005):
        same = [
            v.similarity >= threshold
            for v, label in zip(verdicts, labels, strict=True)
            if label == 1
        ]
        other = [
            v.similarity >= threshold
            for v, label in zip(verdicts, labels, strict=True)
            if label == 0
        ]
        if other and sum(other) / len(other) <= 0.01:
            best = max(best, sum(same) / len(same))
    return best


def shop_intents(rows: list[Row], per_source: int, seed: int) -> None:
    """A shop that adds its own intents in the admin: for each e-commerce source (a shop of
    its own), half of each label's messages become the phrasings of an intent named after
    the label (tier from bench/eval_labels.py); pairs are built from the other half only
    and matched with and without those intents."""
    from routing import classifier
    from routing.models import Intent, IntentExample
    from support_bot.cache.evaluation import (
        best_rates,
        configured_threshold,
        intent_sweep,
        pair_verdicts,
        rates_at,
    )

    print(
        "\n# 4. matching once the shop has added its own intents (half of each label's "
        "messages as phrasings; pairs from the other half)\n"
    )
    print(
        "| shop | its intents (phrasings) | pairs (1/0) | without them: @ configured / best @ <=1% false "
        "| with them: hit rate @ configured | false hits @ configured | best @ <=1% false |"
    )
    print("|---|---|---|---|---|---|---|")
    rng = random.Random(seed)
    for source in ECOMMERCE:
        by_label: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            if row.source == source:
                by_label[row.label].append(row)
        seen: dict[str, list[Row]] = {}
        unseen: list[Row] = []
        for label, group in by_label.items():
            group = group[:]
            rng.shuffle(group)
            seen[label] = group[: len(group) // 2]
            unseen += group[len(group) // 2 :]
        pairs = build_pairs(unseen, per_source, seed)
        pair_texts = [(a, b) for _, a, b, _ in pairs]
        labels = [label for *_, label in pairs]
        results = []
        made = []
        for with_shop in (False, True):
            if with_shop:
                for label, phrasings in seen.items():
                    tier = TIERS[label][0]
                    intent = Intent.objects.create(
                        name=f"shop-{label.lower()}",
                        description=label.lower().replace("_", " "),
                        tier=tier,
                        tier0=tier == 0,
                        escalate=label in PERSON_LABELS,
                    )
                    made.append(intent)
                    IntentExample.objects.bulk_create(
                        [IntentExample(intent=intent, text=row.text[:300]) for row in phrasings],
                        ignore_conflicts=True,
                    )
            classifier.reset()
            verdicts = pair_verdicts(pair_texts)
            now = rates_at(verdicts, labels, configured_threshold())
            best = best_rates(
                verdicts,
                labels,
                sweep=intent_sweep(verdicts, labels, thresholds=FALLBACK_THRESHOLDS),
            )
            results.append((now, best))
        for intent in made:
            intent.delete()
        classifier.reset()
        (before, before_best), (after, after_best) = results
        print(
            f"| {source} | {len(seen)} ({sum(map(len, seen.values()))}) "
            f"| {labels.count(1)}/{labels.count(0)} "
            f"| {before.hit_rate:.1%} / {before_best.hit_rate if before_best else 0:.1%} "
            f"| {after.hit_rate:.1%} | {after.false_hit_rate:.2%} "
            f"| {after_best.hit_rate if after_best else 0:.1%} ({_setting(after_best)}) |"
        )


def latency(rows: list[Row], entries: int, seed: int) -> None:
    from routing.embeddings import embed_many
    from support_bot.cache.index import VectorIndex

    rng = np.random.default_rng(seed)
    texts = [row.text for row in rows]
    base = embed_many(texts)
    origin = rng.integers(0, len(texts), entries)
    noise = rng.standard_normal((entries, base.shape[1])).astype(np.float32) * 0.02
    vectors = base[origin] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = base[rng.integers(0, len(texts), 2000)]
    print(f"\n# 2. lookup latency after the embedding, {entries:,} entries\n")
    # CPU time of the lookup beside wall time: on a busy machine the wall-clock tail is
    # mostly waiting for a core.
    print("| filing | partitions | build s | p50 ms | p95 ms | p99 ms | p95 CPU ms |")
    print("|---|---|---|---|---|---|---|")
    for name, partition_of in (
        (
            "by intent and entities (as filed)",
            lambda i: f"{rows[i].source}:{rows[i].label}:{sorted(rows[i].entities)}",
        ),
        ("all in one partition (worst case)", lambda i: "one"),
    ):
        index = VectorIndex()
        started = time.monotonic()
        for n, vector in enumerate(vectors):
            index.add(f"e{n}", partition_of(int(origin[n])), vector)
        build = time.monotonic() - started
        samples, cpu = [], []
        picks = rng.integers(0, len(texts), len(queries))
        for q, pick in zip(queries, picks, strict=True):
            t, c = time.perf_counter(), time.thread_time()
            index.search(partition_of(int(pick)), q, k=3)
            samples.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
        p50, p95, p99 = np.percentile(samples, [50, 95, 99])
        cpu95 = float(np.percentile(cpu, 95))
        parts = len({partition_of(int(o)) for o in origin})
        print(
            f"| {name} | {parts:,} | {build:.0f} | {p50:.2f} | {p95:.2f} | {p99:.2f} | {cpu95:.2f} |"
        )


def replay(rows: list[Row], messages: int, seed: int) -> None:
    """Each e-commerce source is its own shop with its own cache: its messages drawn with
    Zipf-like popularity, every miss answered (priced like bench/routing.py) and stored.
    A hit is wrong when the question it was stored for has another label or other
    entities in the source data."""
    from routing.embeddings import embed_many

    print(
        f"\n# 3. replay: {messages:,} messages per shop, Zipf-like popularity, "
        "one shop (and cache) per source\n"
    )
    print(
        "| shop | distinct questions | cacheable | hits | wrong hits | cost without cache | cost with cache | saved |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rng = random.Random(seed)
    wrong_seen: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], tuple[str, str, str]] = {}
    for source in ECOMMERCE:
        stream, distinct = popular_stream(
            [row for row in rows if row.source == source],
            lambda row: (row.label, row.entities),
            messages,
            rng,
        )
        vectors = dict(
            zip([r.text for r in stream], embed_many([r.text for r in stream]), strict=True)
        )
        result = _replay_one(stream, vectors)
        for key, example in result.wrong:
            wrong_seen[key] += 1
            examples.setdefault(key, example)
        total = result.cost + result.saved
        print(
            f"| {source} | {distinct:,} | {result.cacheable / messages:.1%} | {result.hits / messages:.1%} "
            f"| {len(result.wrong)} | ${total:.4f} | ${result.cost:.4f} "
            f"| {result.saved / total if total else 0:.1%} |"
        )
    if wrong_seen:
        print("\nwrong hits, most frequent (stored label -> asked label, filed under intent):\n")
        for key, count in wrong_seen.most_common(10):
            stored, asked, intent = examples[key]
            print(f"- {count} x {key[0]} -> {key[1]} ({intent}): {stored!r} served for {asked!r}")


@dataclass
class ReplayResult:
    cost: Decimal = Decimal(0)
    saved: Decimal = Decimal(0)
    hits: int = 0
    cacheable: int = 0
    # ((stored label, asked label, intent), (stored text, asked text, intent)) per wrong hit
    wrong: list[tuple[tuple[str, str, str], tuple[str, str, str]]] = field(default_factory=list)


def _replay_one(stream: list[Row], vectors: dict[str, np.ndarray]) -> ReplayResult:
    from routing.decisions import route_decide
    from routing.models import LLMModel
    from routing.services.ledger import Prices
    from support_bot.cache.services import cache_flush, cache_lookup, cache_query, cache_store

    price = Prices.of(LLMModel.objects.get(name="deepseek-v3.2"))
    call = price.cost(prompt_tokens=PROMPT_TOKENS, completion_tokens=REPLY_TOKENS)
    cache_flush(scope=None)
    result = ReplayResult()
    served_from: dict[str, Row] = {}
    for row in stream:
        decision = route_decide(text=row.text, vector=vectors[row.text])
        query = cache_query(text=row.text, decision=decision, customer_id=None, language="en")
        hit = cache_lookup(query)
        result.cacheable += query is not None
        if hit is not None and query is not None:
            result.hits += 1
            result.saved += hit.cost_usd
            source = served_from[hit.entry_id]
            if (source.label, source.entities) != (row.label, row.entities):
                result.wrong.append(
                    (
                        (source.label, row.label, query.intent),
                        (source.text, row.text, query.intent),
                    )
                )
            continue
        result.cost += call
        entry = cache_store(
            query, answer=f"answer to {row.text}", tier=decision.tier, cost_usd=call
        )
        if entry is not None:
            served_from.setdefault(entry, row)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--pairs", type=int, default=1500, help="positive pairs per source")
    parser.add_argument("--banking", type=int, default=3000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--replay", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--sections",
        default="matching,latency,replay,shop",
        help="comma-separated subset to run",
    )
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    embedded_django("bench-cache-")
    rows = load(args.eval, args.banking, args.seed)
    _ROWS.update({row.text: row for row in rows})
    if "matching" in sections:
        matching(build_pairs(rows, args.pairs, args.seed))
    if "latency" in sections:
        latency(rows, args.entries, args.seed)
    if "replay" in sections:
        replay(rows, args.replay, args.seed)
    if "shop" in sections:
        shop_intents(rows, args.pairs, args.seed)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
