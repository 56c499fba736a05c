"""How routing handles shoppers writing German, French or Spanish.

    python bench/languages.py [FILE.jsonl ...]     # default: every file in bench/data/

Each file holds one ``{"text", "intent"}`` per line, in the language its name starts with
(``de_``, ``fr_``, ``es_``). Routes each message as a verified customer's first message,
as the chat does, and prints intent accuracy, how many tier-0 questions (order status,
tracking, delivery date, refund status, return window) are answered from the database,
how many other questions wrongly get a tier-0 answer, escalation recall and precision, and
the commonest confusions. Each file is routed twice: with the catalogue as installed, and
without that language's phrasings added in December 2026 (``routing/phrasings_de.py``,
``routing/phrasings_fr_es.py``; the escalation rules stay), so the table shows what they
change.

The messages were written for this project separately from the catalogue's phrasings and
rules, by people who saw neither: ``de_messages.jsonl`` was then used while writing the
German phrasings; ``de_messages_heldout.jsonl``, ``fr_messages.jsonl`` and
``es_messages.jsonl`` were not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded import embedded_django  # noqa: E402  (bench/, beside this file)

# Besides the intents that always escalate (asking for a person, anger): legal and
# chargeback threats, which routing's rules hand to a person.
HANDED_OFF = {"dispute"}


def load(path: Path) -> list[tuple[str, str]]:
    from routing.models import Intent

    known = set(Intent.objects.values_list("name", flat=True))
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("intent") not in known or not isinstance(row.get("text"), str):
            raise SystemExit(f"{path}:{number}: needs a text and one of the catalogue's intents")
        rows.append((row["text"], row["intent"]))
    return rows


def measure(rows: list[tuple[str, str]]) -> dict[str, object]:
    from routing.decisions import route_decide
    from routing.models import Intent

    intents = {intent.name: intent for intent in Intent.objects.all()}
    tier0_gold = [text for text, intent in rows if intents[intent].tier0]
    escalate_gold = {
        text for text, intent in rows if intents[intent].escalate or intent in HANDED_OFF
    }
    right = tier0_right = tier0_wrong = tier_ok = 0
    escalated: set[str] = set()
    confusions: Counter[tuple[str, str]] = Counter()
    for text, intent in rows:
        decision = route_decide(text=text, customer_known=True)
        gold = intents[intent]
        right += decision.intent == intent
        if decision.intent != intent:
            confusions[(intent, decision.intent)] += 1
        if decision.tier0:
            if gold.tier0:
                tier0_right += 1
            else:
                tier0_wrong += 1
        # The right tier, or a stronger one for anything but a tier-0 question.
        tier_ok += decision.tier == gold.tier or (not gold.tier0 and decision.tier > gold.tier)
        if decision.escalate:
            escalated.add(text)
    caught = len(escalated & escalate_gold)
    return {
        "intent": right / len(rows),
        "tier_ok": tier_ok / len(rows),
        "tier0": tier0_right / max(len(tier0_gold), 1),
        "tier0_n": len(tier0_gold),
        "tier0_wrong": tier0_wrong,
        "others": len(rows) - len(tier0_gold),
        "recall": caught / max(len(escalate_gold), 1),
        "precision": caught / max(len(escalated), 1),
        "escalate_n": len(escalate_gold),
        "confusions": confusions,
    }


def _added(language: str) -> set[tuple[str, str]]:
    from routing.phrasings_de import PHRASINGS_DE
    from routing.phrasings_fr_es import PHRASINGS_ES, PHRASINGS_FR

    phrasings = {"de": PHRASINGS_DE, "fr": PHRASINGS_FR, "es": PHRASINGS_ES}[language]
    return {(name, text) for name, texts in phrasings.items() for text in texts}


def report(path: Path) -> None:
    from django.db import transaction

    from routing import classifier
    from routing.models import IntentExample

    language = path.name[:2]
    if language not in {"de", "fr", "es"}:
        raise SystemExit(f"{path}: the file name must start with de_, fr_ or es_")
    rows = load(path)
    print(f"\n## {path.name}: {len(rows)} messages, {len({i for _, i in rows})} intents\n")
    results = {}
    classifier.reset()
    results["with the added phrasings"] = measure(rows)
    added = _added(language)
    with transaction.atomic():
        removed = [
            example.pk
            for example in IntentExample.objects.select_related("intent")
            if (example.intent.name, example.text) in added
        ]
        IntentExample.objects.filter(pk__in=removed).delete()
        classifier.reset()
        results[f"without them ({len(removed)} phrasings)"] = measure(rows)
        transaction.set_rollback(True)
    classifier.reset()

    print(
        "| catalogue | intent right | tier right or stronger | tier-0 questions answered "
        "from the database | other questions given a tier-0 answer | escalation recall "
        "/ precision |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['intent']:.1%} | {r['tier_ok']:.1%} | {r['tier0']:.1%} of "
            f"{r['tier0_n']} | {r['tier0_wrong']} of {r['others']} | {r['recall']:.1%} / "
            f"{r['precision']:.1%} ({r['escalate_n']} to escalate) |"
        )
    confusions = results["with the added phrasings"]["confusions"]
    assert isinstance(confusions, Counter)
    print("\ncommonest confusions with the added phrasings (gold -> routed):")
    for (gold, routed), count in confusions.most_common(8):
        print(f"  {count:3d}  {gold} -> {routed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", type=Path, nargs="*")
    args = parser.parse_args()
    embedded_django("bench-german-")
    files = args.files or sorted((ROOT / "bench" / "data").glob("*_messages*.jsonl"))
    for path in files:
        report(path)


if __name__ == "__main__":
    main()
