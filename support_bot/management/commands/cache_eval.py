"""Would the answer cached for ``text_a`` be served for ``text_b``?

    python manage.py cache_eval PAIRS.csv

PAIRS.csv has the columns ``text_a,text_b`` and optionally ``label`` (1 = the same answer
is right for both, 0 = it is not). Prints one JSON line per pair, in input order:
``{"similarity": 0.93, "hit": true, "reason": "semantic"}``, for an anonymous shopper's
first message under the current settings. With labels it then prints the hit rate on
the 1s, the false-hit rate on the 0s, a threshold sweep, and the best intent score and
margin for the answer key.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from support_bot.cache.evaluation import (
    best_rates,
    configured_threshold,
    intent_sweep,
    pair_verdicts,
    rates_at,
    threshold_sweep,
)

MAX_TEXT_CHARS = 4000


def pairs_read(path: Path) -> tuple[list[tuple[str, str]], list[int] | None]:
    """The pairs and labels of a CSV file; a CommandError names the first bad row."""
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as error:
        raise CommandError(f"{path}: not a UTF-8 CSV file ({error})") from None
    if not rows:
        raise CommandError(f"{path}: empty file; expected a header row text_a,text_b[,label]")
    header = [name.strip().lower() for name in rows[0]]
    if header[:2] != ["text_a", "text_b"] or header[2:] not in ([], ["label"]):
        raise CommandError(f"{path}: the header must be text_a,text_b or text_a,text_b,label")
    labelled = len(header) == 3
    pairs: list[tuple[str, str]] = []
    labels: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CommandError(f"row {number}: {len(row)} columns, expected {len(header)}")
        text_a, text_b = row[0].strip(), row[1].strip()
        for name, text in (("text_a", text_a), ("text_b", text_b)):
            if not text:
                raise CommandError(f"row {number}: {name} is empty")
            if len(text) > MAX_TEXT_CHARS:
                raise CommandError(f"row {number}: {name} is over {MAX_TEXT_CHARS} characters")
        if labelled:
            if row[2].strip() not in ("0", "1"):
                raise CommandError(f"row {number}: label must be 0 or 1, not {row[2]!r}")
            labels.append(int(row[2]))
        pairs.append((text_a, text_b))
    if not pairs:
        raise CommandError(f"{path}: no pairs after the header")
    return pairs, labels if labelled else None


class Command(BaseCommand):
    help = "Whether a cached answer for text_a would be served for text_b (one JSON line each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pairs", type=Path, help="CSV with text_a,text_b[,label]")

    def handle(self, *args: Any, **options: Any) -> None:
        pairs, labels = pairs_read(options["pairs"])
        verdicts = pair_verdicts(pairs)
        for verdict in verdicts:
            line = {
                "similarity": round(verdict.similarity, 3),
                "hit": verdict.hit,
                "reason": verdict.reason,
            }
            self.stdout.write(json.dumps(line))
        if labels is None:
            return
        now = rates_at(verdicts, labels, configured_threshold())
        self.stdout.write(
            f"\nat the configured threshold {now.threshold:.2f}: "
            f"hit rate {now.hit_rate:.1%} on label 1 ({labels.count(1)} pairs), "
            f"false-hit rate {now.false_hit_rate:.1%} on label 0 ({labels.count(0)} pairs)"
        )
        self.stdout.write("threshold  hit rate  false hits")
        for rates in threshold_sweep(verdicts, labels):
            self.stdout.write(
                f"{rates.threshold:9.2f}  {rates.hit_rate:8.1%}  {rates.false_hit_rate:10.1%}"
            )
        best = best_rates(verdicts, labels)
        if best is not None:
            self.stdout.write(
                f"best at <= 1% false hits: threshold {best.threshold:.2f}, "
                f"hit rate {best.hit_rate:.1%}, false-hit rate {best.false_hit_rate:.1%}"
            )
        keyed = best_rates(verdicts, labels, sweep=intent_sweep(verdicts, labels))
        if keyed is not None:
            self.stdout.write(
                f"best answer key at <= 1% false hits: intent score {keyed.confidence:.2f}, "
                f"margin {keyed.margin:.2f} (cosine {keyed.threshold:.2f} otherwise), "
                f"hit rate {keyed.hit_rate:.1%}, false-hit rate {keyed.false_hit_rate:.1%}"
            )
