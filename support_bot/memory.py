"""Conversation memory: recent turns verbatim, older ones folded into a summary.

The summary is extractive (the first sentence of each older turn, trimmed), so it costs no
model call and never invents anything; it is stored on the conversation and extended
only with turns it has not folded yet.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from orders.tokens import count_tokens

RECENT_TOKENS = 400
SUMMARY_WORDS_PER_TURN = 18
SUMMARY_MAX_CHARS = 1500
_SENTENCE = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True)
class Remembered:
    id: int
    role: str
    text: str


def split_recent(turns: Sequence[Remembered], budget: int = RECENT_TOKENS) -> int:
    """Index where the recent window starts: newest turns that fit the budget (at least one)."""
    used = 0
    start = len(turns)
    for index in range(len(turns) - 1, -1, -1):
        used += _turn_tokens(turns[index].text)
        if used > budget and start < len(turns):
            break
        start = index
    return start


# Every reply measures the conversation's turns again; a turn's text never changes.
@functools.lru_cache(maxsize=2048)
def _turn_tokens(text: str) -> int:
    return count_tokens(text)


def fold(summary: str, older: Sequence[Remembered]) -> str:
    """The summary extended by the older turns, newest facts kept when it grows too long."""
    lines = [summary] if summary else []
    for turn in older:
        first = _SENTENCE.split(turn.text.strip(), maxsplit=1)[0]
        words = first.split()
        short = " ".join(words[:SUMMARY_WORDS_PER_TURN]) + (
            "…" if len(words) > SUMMARY_WORDS_PER_TURN else ""
        )
        who = (
            "Shopper" if turn.role == "shopper" else "Assistant" if turn.role == "bot" else "Agent"
        )
        lines.append(f"{who}: {short}")
    lines = "\n".join(lines).splitlines()
    while len(lines) > 1 and sum(len(line) + 1 for line in lines) > SUMMARY_MAX_CHARS:
        lines.pop(0)  # whole lines go, oldest first
    return "\n".join(lines)
