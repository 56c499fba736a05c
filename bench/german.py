"""How routing handles German shoppers.

    python bench/german.py [--messages bench/data/de_messages.jsonl]

Routes each German message as a verified customer's first message, as the chat does, and
prints intent accuracy, how many tier-0 questions (order status, tracking, delivery
date, refund status, return window) are answered from the database, how many other
questions wrongly get a tier-0 answer, escalation recall and precision, and the commonest
confusions. It runs twice: with the catalogue as installed, and without the German
phrasings of ``routing/phrasings_de.py``, so the table shows what they change.

The messages (``bench/data/de_messages.jsonl``, one ``{"text", "intent"}`` per line) were
written for this project separately from the catalogue's phrasings, by someone who did
not see them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Besides the intents that always escalate (asking for a person, anger): legal and
# chargeback threats, which routing's rules hand to a person.
HANDED_OFF = {"dispute"}


def setup() -> None:
    os.environ.setdefault("SUPPORT_BOT_VAR_DIR", tempfile.mkdtemp(prefix="bench-german-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--messages", type=Path, default=ROOT / "bench" / "data" / "de_messages.jsonl"
    )
    args = parser.parse_args()
    setup()
    from routing import classifier
    from routing.models import IntentExample
    from routing.phrasings_de import PHRASINGS_DE

    rows = load(args.messages)
    print(f"{len(rows)} German messages, {len({i for _, i in rows})} intents ({args.messages})\n")
    results = {}
    classifier.reset()
    results["with the German phrasings"] = measure(rows)
    german = {(name, text) for name, texts in PHRASINGS_DE.items() for text in texts}
    removed = [
        example.pk
        for example in IntentExample.objects.select_related("intent")
        if (example.intent.name, example.text) in german
    ]
    IntentExample.objects.filter(pk__in=removed).delete()
    classifier.reset()
    results[f"without them ({len(removed)} phrasings removed)"] = measure(rows)

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
    confusions = results["with the German phrasings"]["confusions"]
    assert isinstance(confusions, Counter)
    print("\ncommonest confusions with the German phrasings (gold -> routed):")
    for (gold, routed), count in confusions.most_common(12):
        print(f"  {count:3d}  {gold} -> {routed}")


if __name__ == "__main__":
    main()
