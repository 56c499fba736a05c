"""Conversation memory: recent turns verbatim, older turns folded into a stored summary."""

from __future__ import annotations

import uuid

import pytest

from support_bot.memory import Remembered, fold, split_recent
from support_bot.models import Conversation, Message
from support_bot.prompt import prompt_build
from support_bot.selectors import reply_job_get
from support_bot.services.replies import _remember

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
