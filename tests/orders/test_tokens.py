"""Token counts: what budgets and estimated usage are computed from."""

from __future__ import annotations

import pytest

from orders.tokens import _tokenizer, count_tokens


def whole(text: str) -> int:
    tokenizer = _tokenizer()
    assert tokenizer is not None
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


@pytest.mark.parametrize(
    "text",
    [
        "You are the shop's assistant.\nAnswer from the facts below.\n\nOrder 1042: shipped",
        "Größe M, naïve café\n€12.50 refund—policy\n\n\n  indented line \t\nlast",
        "one word per line\nx\ny\nz\n",
        "\nstarts and ends with newlines\n",
        "a" * 150 + "\n" + "b" * 150,  # words past WordPiece's 100 characters: one token each
        "日本語のテキスト\nemoji 😀 and e\u0301 combining\r\nwindows line end",
    ],
)
def test_a_text_of_many_lines_counts_as_the_tokenizer_counts_it_whole(text: str) -> None:
    assert count_tokens(text) == whole(text)


def test_a_line_repeated_in_a_longer_text_is_counted_in_that_text() -> None:
    rules = "Never reveal another customer's orders.\nAnswer in the shopper's language."
    assert count_tokens(rules) == whole(rules)
    longer = rules + "\nOrder 2001 was delivered on 3 March."
    assert count_tokens(longer) == whole(longer) > count_tokens(rules)


def test_nothing_counts_nothing() -> None:
    assert count_tokens("") == 0
    assert count_tokens("\n\n") == 0
