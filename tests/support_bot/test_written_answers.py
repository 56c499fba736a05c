"""The shop's written answers: a question that is plainly one intent gets the shop's own
words at once, with no model; anything more specific still goes to the model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from orders.models import Customer
from routing.answers import written_answers_save
from routing.defaults import LOCAL
from routing.fake_provider import FakeProviderServer
from routing.models import Intent, IntentAnswer, LLMModel
from support_bot.identity import customer_token_make
from support_bot.models import Message
from support_bot.services.demo_answers import DEMO_ANSWERS
from tests.support_bot.test_reply_streaming import (
    ask,
    deltas,
    frames_until_done,
    ledger_row,
    open_chat,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

PASSWORD = (
    "Choose 'Sign in', then 'Forgot your password?', and we email you a link to set a new one."
)
COUNTRIES = "We deliver to the United States, the United Kingdom and every EU country."
SHIPPING = "United States: free over USD 75, otherwise USD 5.95."


async def one_reply(text: str, **hello: Any) -> list[dict[str, Any]]:
    ws, _ = await open_chat(**hello)
    try:
        await ask(ws, text)
        return await frames_until_done(ws)
    finally:
        await ws.disconnect()


def answers(**extra: tuple[str, bool]) -> None:
    written_answers_save(
        {
            ("recover_password", "en"): (PASSWORD, False),
            ("shipping_countries", "en"): (COUNTRIES, True),
            ("shipping_cost", "en"): (SHIPPING, False),
            **{tuple(key.split(":")): value for key, value in extra.items()},  # type: ignore[misc]
        }
    )


async def test_a_plain_question_gets_the_shops_words_with_no_model(
    reply_workers: FakeProviderServer, customer: Customer
) -> None:
    await LLMModel.objects.filter(provider__name=LOCAL).aupdate(
        input_price_per_mtok=Decimal("1.00"), output_price_per_mtok=Decimal("2.00")
    )
    await _sync(answers)
    token = customer_token_make(external_id=customer.external_id)
    frames = await one_reply("I forgot my password, how do I reset it?", customer_token=token)

    done = frames[-1]
    assert done["type"] == "done" and done["text"] == PASSWORD
    assert "".join(d["text"] for d in deltas(frames)).strip() == PASSWORD
    assert reply_workers.stats()["requests"] == 0
    reply = await Message.objects.aget(pk=done["message_id"])
    assert (reply.status, reply.text) == ("done", PASSWORD)
    row = await ledger_row(done["message_id"])
    assert (row.tier, row.outcome, row.cost_usd) == (0, "tier0", 0)
    assert row.avoided_cost_usd > 0  # what the cheapest tier-1 model would have charged


async def test_anonymous_shoppers_get_written_answers_too(
    reply_workers: FakeProviderServer,
) -> None:
    await _sync(answers)
    frames = await one_reply("how much is shipping?")
    assert frames[-1]["text"] == SHIPPING
    assert reply_workers.stats()["requests"] == 0


async def test_a_question_naming_specifics_goes_to_the_model_unless_the_answer_covers_them(
    reply_workers: FakeProviderServer,
) -> None:
    await _sync(answers)
    # "Free over USD 75" does not say what shipping to Germany costs.
    to_germany = await one_reply("how much is shipping to Germany?")
    assert to_germany[-1]["text"].startswith("Echo:")
    assert reply_workers.stats()["requests"] == 1
    # A list of every destination does answer "to Canada?".
    to_canada = await one_reply("Do you ship to Canada?")
    assert to_canada[-1]["text"] == COUNTRIES
    assert reply_workers.stats()["requests"] == 1


async def test_a_question_about_the_customers_own_order_is_never_given_a_written_answer(
    reply_workers: FakeProviderServer, customer: Customer
) -> None:
    await _sync(answers)
    token = customer_token_make(external_id=customer.external_id)
    frames = await one_reply("I forgot the password I used for order 100001", customer_token=token)
    assert frames[-1]["text"].startswith("Echo:")
    assert reply_workers.stats()["requests"] == 1


async def test_the_answer_is_in_the_conversations_language_or_the_model_answers(
    reply_workers: FakeProviderServer,
) -> None:
    await _sync(answers)
    german = "Ich habe mein Passwort vergessen, wie kann ich es zurücksetzen?"
    assert (await one_reply(german, language="de"))[-1]["text"].startswith("Echo:")
    assert reply_workers.stats()["requests"] == 1

    await _sync(lambda: answers(**{"recover_password:de": ("Wählen Sie 'Anmelden' …", False)}))
    frames = await one_reply(german, language="de")
    assert frames[-1]["text"] == "Wählen Sie 'Anmelden' …"
    assert reply_workers.stats()["requests"] == 1


async def test_an_edit_or_a_disabled_answer_applies_to_the_next_message(
    reply_workers: FakeProviderServer,
) -> None:
    await _sync(answers)
    await IntentAnswer.objects.filter(intent__name="recover_password").aupdate(
        text="Use the link on the sign-in page."
    )
    frames = await one_reply("I forgot my password")
    assert frames[-1]["text"] == "Use the link on the sign-in page."

    await IntentAnswer.objects.filter(intent__name="recover_password").aupdate(enabled=False)
    frames = await one_reply("I forgot my password")
    assert frames[-1]["text"].startswith("Echo:")


async def test_a_shopper_who_asks_again_gets_the_model_not_the_same_words(
    reply_workers: FakeProviderServer,
) -> None:
    await _sync(answers)
    ws, _ = await open_chat()
    try:
        await ask(ws, "I forgot my password")
        first = await frames_until_done(ws)
        await ask(ws, "I forgot my password")
        again = await frames_until_done(ws)
    finally:
        await ws.disconnect()
    assert first[-1]["text"] == PASSWORD
    assert again[-1]["text"].startswith("Echo:")


def test_answers_for_intents_the_bot_never_answers_itself_are_refused() -> None:
    for name in ("order_status", "human_agent"):
        answer = IntentAnswer(intent=Intent.objects.get(name=name), language="en", text="Hi")
        with pytest.raises(ValidationError, match="would never be sent"):
            answer.full_clean()
    blank = IntentAnswer(intent=Intent.objects.get(name="greeting"), language="en", text="  ")
    with pytest.raises(ValidationError):
        blank.full_clean()
    with pytest.raises(ValueError, match="no such intent: gift_wrap"):
        written_answers_save({("gift_wrap", "en"): ("We wrap.", False)})


def test_the_admin_edits_an_intents_written_answers(client: Client) -> None:
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    greeting = Intent.objects.get(name="greeting")
    page = client.get(f"/admin/routing/intent/{greeting.pk}/change/").content.decode()
    assert "written answers: sent as written, with no model" in page.lower()
    response = client.post(
        "/admin/routing/intentanswer/add/",
        {
            "intent": greeting.pk,
            "language": "de",
            "text": "Hallo! Wie kann ich helfen?",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    assert IntentAnswer.objects.get(intent=greeting, language="de").text.startswith("Hallo")
    refused = client.post(
        "/admin/routing/intentanswer/add/",
        {"intent": Intent.objects.get(name="order_status").pk, "language": "en", "text": "x"},
    )
    assert "would never be sent" in refused.content.decode()


def test_every_demo_answer_is_for_an_intent_the_bot_answers_itself() -> None:
    written_answers_save(DEMO_ANSWERS)
    for answer in IntentAnswer.objects.select_related("intent"):
        answer.full_clean()
    assert IntentAnswer.objects.count() == len(DEMO_ANSWERS)


async def _sync(function: Any) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(function)()
