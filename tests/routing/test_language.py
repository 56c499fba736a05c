"""The language a shopper writes in, among the bot's four."""

from __future__ import annotations

import pytest

from routing.language import message_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wo ist mein Paket?", "de"),
        ("Hallo, ich habe eine Frage zu meiner Bestellung", "de"),
        ("ist meine bestelung schon raus", "de"),
        ("Où est ma commande ?", "fr"),
        ("Je voudrais savoir quand mon colis arrive", "fr"),
        ("¿Dónde está mi pedido?", "es"),
        ("Quiero devolver mis zapatos", "es"),
        ("Where is my order 100001?", "en"),
        ("Can I still return the jacket I got from you?", "en"),
    ],
)
def test_a_message_in_one_of_the_bots_languages_is_recognised(text: str, language: str) -> None:
    assert message_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "danke!",
        "100001",
        "Danke, and the tracking?",  # mixed: the conversation keeps its language
        "Ciao, dov'è il mio ordine?",  # Italian: not one of the bot's languages
    ],
)
def test_short_mixed_or_other_messages_leave_the_language_as_it_was(text: str) -> None:
    assert message_language(text) is None


def test_german_place_names_do_not_make_english_german() -> None:
    assert message_language("Do you ship to München or Düsseldorf?") != "de"
