from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from routing.decisions import Turn, route_decide

MAX_TEXT = 4000


def _turns(history: Any, line: int) -> list[Turn]:
    if history is None:
        return []
    if not isinstance(history, list):
        raise CommandError(f"line {line}: 'history' must be a list")
    turns = []
    for index, item in enumerate(history):
        if isinstance(item, str):
            turns.append(Turn(role="shopper", text=item))
        elif isinstance(item, dict) and isinstance(
            text := item.get("text", item.get("content")), str
        ):
            role = str(item.get("role", "shopper"))
            role = {"user": "shopper", "assistant": "bot"}.get(role, role)
            turns.append(Turn(role=role, text=text))
        else:
            raise CommandError(
                f"line {line}: history[{index}] must be a string or "
                '{"role": "shopper"|"bot", "text": "..."}'
            )
    return turns


def _read(path: Path) -> list[tuple[str, list[Turn], bool]]:
    try:
        raw_lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    inputs = []
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(f"line {number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise CommandError(f'line {number}: expected {{"text": "...", "history": [...]}}')
        if len(item["text"]) > MAX_TEXT:
            raise CommandError(f"line {number}: text is longer than {MAX_TEXT} characters")
        known = item.get("customer_known", True)
        inputs.append((item["text"], _turns(item.get("history"), number), bool(known)))
    return inputs


class Command(BaseCommand):
    help = (
        "Route shopper messages from a JSONL file as the bot would, one JSON line out per "
        'line in: {"tier", "intent", "escalate", "reasons", "confidence"}. Input lines are '
        '{"text": "...", "history": [...], "customer_known": true} (history and '
        "customer_known optional). A summary goes to stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        inputs = _read(options["file"])
        tiers: Counter[int] = Counter()
        escalations = 0
        for text, history, known in inputs:
            decision = route_decide(text=text, history=history, customer_known=known)
            tiers[decision.tier] += 1
            escalations += decision.escalate
            self.stdout.write(json.dumps(decision.as_dict(), ensure_ascii=False))
        total = len(inputs) or 1
        summary = ", ".join(
            f"tier {t}: {tiers[t]} ({tiers[t] * 100 / total:.0f}%)" for t in range(4)
        )
        self.stderr.write(
            f"{len(inputs)} messages; {summary}; escalate: {escalations} "
            f"({escalations * 100 / total:.0f}%)"
        )
