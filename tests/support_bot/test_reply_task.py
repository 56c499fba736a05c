"""The reply task delivered again (the broker's visibility timeout ran out, a sweep found
the reply late): a reply another worker is writing is looked at again after its lease, a
finished one is left alone."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from unittest import mock

import pytest
from celery.exceptions import Retry

from orders.models import Customer
from support_bot.models import Conversation, Message
from support_bot.services.messages import REPLY_LEASE, message_receive, reply_claim, reply_finish
from support_bot.tasks import generate_reply

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def _queued_reply() -> int:
    conversation = Conversation.objects.create()
    received = message_receive(
        conversation_id=conversation.pk, text="Do you ship to Norway?", client_id=uuid.uuid4()
    )
    assert received.reply_id is not None
    return received.reply_id


def _deliver_again(reply_id: int) -> Any:
    with (
        mock.patch.object(generate_reply, "retry", side_effect=Retry()) as retry,
        contextlib.suppress(Retry),
    ):
        generate_reply.run(reply_id=reply_id)
    return retry


def test_a_reply_another_worker_is_writing_is_looked_at_again_after_its_lease() -> None:
    reply_id = _queued_reply()
    assert reply_claim(reply_id=reply_id)  # the other worker, alive
    retry = _deliver_again(reply_id)
    retry.assert_called_once_with(countdown=REPLY_LEASE.total_seconds())
    reply = Message.objects.get(pk=reply_id)
    assert (reply.status, reply.attempts) == ("generating", 1), "the live claim is not stolen"


def test_a_finished_reply_delivered_again_is_left_alone() -> None:
    reply_id = _queued_reply()
    assert reply_claim(reply_id=reply_id)
    assert reply_finish(reply_id=reply_id, text="We ship to Norway.")
    retry = _deliver_again(reply_id)
    retry.assert_not_called()
    reply = Message.objects.get(pk=reply_id)
    assert (reply.status, reply.text, reply.attempts) == ("done", "We ship to Norway.", 1)


def test_a_task_carrying_another_messages_text_answers_its_own_message(
    customer: Customer,
) -> None:
    # The task names the shopper's text so that its embedding can start early; the reply
    # still answers what the conversation holds, never what the task says.
    conversation = Conversation.objects.create(customer=customer)
    received = message_receive(
        conversation_id=conversation.pk, text="Where is my order?", client_id=uuid.uuid4()
    )
    assert received.reply_id is not None

    generate_reply.run(reply_id=received.reply_id, text="I want to talk to a human now")

    reply = Message.objects.get(pk=received.reply_id)
    assert reply.status == "done" and reply.text.startswith("Your order 100001 from")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.BOT
