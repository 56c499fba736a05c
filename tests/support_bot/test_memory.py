"""Conversation memory: recent turns verbatim, older turns folded into a stored summary."""

from __future__ import annotations

import functools
import uuid

import pytest

from support_bot.memory import Remembered, fold, split_recent
from support_bot.models import Conversation, Message
from support_bot.prompt import prompt_build
from support_bot.selectors import reply_job_get
from support_bot.services.replies import _remember
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def talk(conversation: Conversation, turns: int) -> Message:
    for n in range(turns):
        shopper = Message.objects.create(
            conversation=conversation,
            role="shopper",
            client_id=uuid.uuid4(),
            text=f"Question {n}: my parcel number {n} has not arrived. " + "It is urgent. " * 20,
        )
        Message.objects.create(
            conversation=conversation,
            role="bot",
            status="done",
            reply_to=shopper,
            text=f"Answer {n}: I checked parcel {n}. " + "More detail follows. " * 20,
        )
    last = Message.objects.create(
        conversation=conversation,
        role="shopper",
        text="And what about the first one?",
        client_id=uuid.uuid4(),
    )
    return Message.objects.create(
        conversation=conversation, role="bot", status="queued", reply_to=last
    )


def test_the_recent_window_keeps_the_newest_turns_within_the_budget() -> None:
    turns = [Remembered(id=n, role="shopper", text="word " * 100) for n in range(10)]
    start = split_recent(turns, budget=250)
    assert 0 < start < 10 and len(turns) - start == 2
    assert split_recent(turns[:1], budget=1) == 0  # the newest turn always stays


def test_folding_keeps_the_first_sentence_of_each_turn_and_whole_lines() -> None:
    older = [
        Remembered(1, "shopper", "My jacket is torn. Please help."),
        Remembered(2, "bot", "Sorry to hear that! Send a photo."),
    ]
    summary = fold("", older)
    assert summary == "Shopper: My jacket is torn.\nAssistant: Sorry to hear that!"
    long = fold(summary, [Remembered(n, "shopper", f"Line {n} " + "x" * 80) for n in range(3, 40)])
    assert len(long) <= 1500 and long.splitlines()[-1].startswith("Shopper: Line 39")


def test_older_turns_are_folded_once_stored_and_reused() -> None:
    conversation = Conversation.objects.create()
    reply = talk(conversation, turns=8)
    job = reply_job_get(reply_id=reply.pk)
    assert job.memory_pending and len(job.history) < 17
    remembered = _remember(job)
    conversation.refresh_from_db()
    assert "Question 0: my parcel number 0 has not arrived." in conversation.memory_summary
    assert conversation.memory_upto == job.memory_pending[-1].id
    again = reply_job_get(reply_id=reply.pk)
    assert again.memory_pending == () and again.memory_summary == conversation.memory_summary
    system = prompt_build(job=remembered, shop_name="Demo", orders_text=None)[0]["content"]
    assert "<earlier>" in system and "Question 0" in system
    assert "And what about the first one?" in remembered.history[-1].text


def test_a_reply_job_holds_its_conversation_and_only_the_turns_before_it() -> None:
    customer = CustomerFactory.create(name="Ada Lovelace")
    conversation = Conversation.objects.create(customer=customer, language="de")
    other = Conversation.objects.create()
    say = functools.partial(Message.objects.create, conversation=conversation)
    say(role="shopper", text="Hallo", client_id=uuid.uuid4())
    say(role="bot", text="Hallo! Wie kann ich helfen?")
    say(role="system", text="Anna from our support team has joined the chat.")
    say(role="agent", text="Ich bin Anna.")
    say(role="bot", status="failed", text="half an ans")
    Message.objects.create(conversation=other, role="shopper", text="Bob's secret order 290117")
    asked = say(role="shopper", text="Wo ist mein Paket?", client_id=uuid.uuid4())
    reply = say(role="bot", status="queued", reply_to=asked)
    say(role="shopper", text="Noch da?", client_id=uuid.uuid4())  # written after: not yet
    job = reply_job_get(reply_id=reply.pk)
    assert [(turn.role, turn.text) for turn in job.history] == [
        ("shopper", "Hallo"),
        ("bot", "Hallo! Wie kann ich helfen?"),
        ("agent", "Ich bin Anna."),
        ("shopper", "Wo ist mein Paket?"),
    ]
    assert (job.conversation_id, job.customer_id, job.customer_name) == (
        conversation.pk,
        customer.pk,
        "Ada Lovelace",
    )
    assert (job.language, job.conversation_state, job.attempt) == ("de", "bot", 0)
    assert job.group == conversation.group_name and job.memory_pending == ()


def test_a_reply_job_without_a_customer_or_a_reply() -> None:
    conversation = Conversation.objects.create()
    asked = Message.objects.create(conversation=conversation, role="shopper", text="Hi")
    reply = Message.objects.create(
        conversation=conversation, role="bot", status="queued", reply_to=asked
    )
    job = reply_job_get(reply_id=reply.pk)
    assert (job.customer_id, job.customer_name, job.history[-1].text) == (None, None, "Hi")
    with pytest.raises(Message.DoesNotExist):
        reply_job_get(reply_id=reply.pk + 1000)
