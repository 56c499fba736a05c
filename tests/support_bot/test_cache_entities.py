"""The cache's entity guard and action frames, and the eval command's input checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.base import CommandError

from support_bot.cache.entities import question_entities
from support_bot.cache.frames import frames_agree
from support_bot.management.commands.cache_eval import pairs_read

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Track order 3707955617", "track order 732201349959"),
        ("cancelling order732201349959", "cancel order 3707955617"),
        ("Do you ship to Canada?", "Do you ship to Japan?"),
        ("I expect a refund of $1499", "I expect a refund of $299"),
        ("a refund of 20 dollars", "a refund of 20 euros"),
        ("Is the jacket available in size XL?", "Is the jacket available in size M?"),
        ("Do you have it in size twelve?", "Do you have it in size ten?"),
        ("Do you have it in red?", "Do you have it in blue?"),
        ("How do I delete my Gold account?", "How do I delete my free account?"),
        ("problem with creating aPro account", "problem with creating aStandard account"),
        ("help me use the Premium profile", "help me use a different profile"),
        ("cancel the pro accounmt", "cancel my order"),
        ("How can I order a custom sized mattress", "How can I order a mattress"),
        ("show me the bills from Mr. Smith", "show me the bills from Mr. Jones"),
        ("bills from Anna Freeman and Bob", "bills from Carl Smith and Dave"),
        ("Can I use code SAVE20?", "Can I use code WELCOME10?"),
        ("Deliver to Toronto", "Deliver to Munich"),
    ],
)
def test_different_entities_never_look_alike(a: str, b: str) -> None:
    assert question_entities(a) != question_entities(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Track order 00123842", "track my order 123842"),
        ("refund of $1,499.00", "refund of $1499"),
        ("Do you ship to the USA?", "do you ship to america"),
        ("What is your returns policy?", "how do returns work"),
        # "size" followed by a word that is no size names none.
        ("Can you help with the size?", "What size to order?"),
        ("Can I see the size chart?", "how do sizes run"),
        # Title Case of ordinary words names nobody.
        ("Need Nearby Store", "need a store near me"),
    ],
)
def test_the_same_entities_written_differently_agree(a: str, b: str) -> None:
    assert question_entities(a) == question_entities(b)


def test_a_different_action_is_a_different_question() -> None:
    assert not frames_agree("How do I delete my account?", "How do I create an account?")
    assert frames_agree("How do I delete my account?", "how can i remove my account")


def test_the_eval_command_names_the_bad_row(tmp_path: Path) -> None:
    good = tmp_path / "pairs.csv"
    good.write_text("text_a,text_b,label\nhi,hello,1\nwhere is my order,track order 1,0\n")
    assert pairs_read(good) == ([("hi", "hello"), ("where is my order", "track order 1")], [1, 0])
    for body, message in [
        ("a,b\nx,y\n", "header"),
        ("text_a,text_b\nx,\n", "row 2: text_b is empty"),
        ("text_a,text_b,label\nx,y,yes\n", "row 2: label must be 0 or 1"),
        ("text_a,text_b\nx,y\nonly one\n", "row 3: 1 columns"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text(body)
        with pytest.raises(CommandError, match=message):
            pairs_read(bad)
