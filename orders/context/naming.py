"""Which of the customer's orders a shopper's message is about.

Four kinds of reference, tried in this order because each is less certain than the one
before: a number ("100234", "#W2611340", a parcel's tracking number), its last digits
("the number ends in 66"), a position ("my last order", "my previous order"), then a
product ("the hiking boots"). Only the orders passed in are ever candidates, so no
wording can name another customer's order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orders.context.snapshot import LineFact, OrderFact

# Anything with a digit in it may be an order or tracking number.
_NUMBERISH = re.compile(r"[#A-Za-z0-9][A-Za-z0-9_-]*")
# Enough for any real message; a pasted wall of numbers must not grow the query.
_MAX_NUMBERS = 20
_MIN_DIGITS = 4
_NOUN = r"(?:order|purchase|parcel|package|delivery|shipment)s?\b"
# One optional word between, for "my last online order"; "previous instructions" is no order.
_LATEST = re.compile(
    rf"\b(?:last|latest|newest|most recent|recent|current)\s+(?:\w+\s+)?{_NOUN}", re.IGNORECASE
)
_PREVIOUS = re.compile(
    rf"\b(?:previous|prior|earlier|second[- ](?:to[- ])?last|one before the last)\s+(?:\w+\s+)?{_NOUN}",
    re.IGNORECASE,
)
# "the order number ends in 66": people remember the last digits.
_ENDING = re.compile(r"\b(?:ends?|ending)\s+(?:in|with)\s+#?(\d{2,})\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which product is meant ("set" as in "set my address").
_GENERIC = frozenset({"set", "kit", "pack", "pair", "the", "and", "for", "with", "new", "smart"})
_FUZZY = 0.85


def mentioned_numbers(message: str) -> frozenset[str]:
    """Exact order numbers the message may contain, for loading old orders by number."""
    candidates: set[str] = set()
    for token in _numberish(message)[:_MAX_NUMBERS]:
        bare = token.lstrip("#")
        for form in (bare, bare.upper()):
            candidates.update((form, f"#{form}"))
    return frozenset(candidates)


def named_orders(orders: Sequence[OrderFact], message: str) -> tuple[str, ...]:
    """Numbers of the orders ``message`` refers to, most relevant first (``orders`` newest first)."""
    for finder in (_by_number, _by_ending, _by_position, _by_product):
        named = tuple(dict.fromkeys(finder(orders, message)))
        if named:
            return named
    return ()


def _numberish(message: str) -> list[str]:
    return [token for token in _NUMBERISH.findall(message) if any(c.isdigit() for c in token)]


def _key(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


def _by_number(orders: Sequence[OrderFact], message: str) -> Iterable[str]:
    for token in _numberish(message)[:_MAX_NUMBERS]:
        key = _key(token)
        for order in orders:
            tracking = {
                _key(number) for shipment in order.shipments for number in shipment.tracking_numbers
            }
            if _number_matches(key, _key(order.number)) or key in tracking:
                yield order.number


def _by_ending(orders: Sequence[OrderFact], message: str) -> Iterable[str]:
    for ending in _ENDING.findall(message):
        yield from (o.number for o in orders if re.sub(r"\D", "", o.number).endswith(ending))


def _number_matches(said: str, number: str) -> bool:
    if said == number:
        return True
    # "2611340" for "#W2611340": the digits alone are how people read numbers out.
    digits = re.sub(r"\D", "", number)
    return said.isdigit() and len(said) >= _MIN_DIGITS and said == digits


def _by_position(orders: Sequence[OrderFact], message: str) -> Iterable[str]:
    if orders and _LATEST.search(message):
        yield orders[0].number
    if len(orders) > 1 and _PREVIOUS.search(message):
        yield orders[1].number


def _by_product(orders: Sequence[OrderFact], message: str) -> Iterable[str]:
    said = {_singular(word) for word in _WORD.findall(message.lower())}
    if not said:
        return
    scores = {
        order.number: max((_line_score(line, said) for line in order.lines), default=0.0)
        for order in orders
    }
    best = max(scores.values(), default=0.0)
    if best >= 0.5:
        # Every order with the best match, newest first: "my water bottle" may be two orders.
        yield from (number for number, score in scores.items() if score == best)


def _line_score(line: LineFact, said: set[str]) -> float:
    """Share of the product's name the message contains, plus a little for its options."""
    name = [w for w in map(_singular, _WORD.findall(line.name.lower())) if len(w) > 2]
    significant = [word for word in name if word not in _GENERIC]
    # The head noun must be said: "tea kettle" is the Electric Kettle, "rain jacket" is
    # not the Rain Shell.
    if not significant or not _said(significant[-1], said):
        return 0.0
    score = sum(_said(word, said) for word in name) / len(name)
    values = [_singular(word) for _, value in line.options for word in _WORD.findall(value.lower())]
    if values:
        score += 0.25 * sum(word in said for word in values) / len(values)
    return score


def _said(word: str, said: set[str]) -> bool:
    if word in said:
        return True
    # Typos in longer words ("botle"); short words must match exactly.
    return len(word) >= 5 and any(
        len(other) >= 4 and SequenceMatcher(None, word, other).ratio() >= _FUZZY for other in said
    )


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
