"""The shopper's side: asking for a person, and a shopper message under the hand-off
rules."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from routing.decisions import asks_for_person
from routing.language import message_language
from support_bot.models import (
    Message,
)
from support_bot.services.conversations import conversation_language_follow
from support_bot.services.handoff.common import (
    ASKED_FOR_PERSON,
    State,
    _after_commit,
    _lock_for_message,
)
from support_bot.services.handoff.transitions import (
    EscalationResult,
    _reopen,
    contact_email_record,
    conversation_escalate,
)
from support_bot.services.messages import Received, message_received_before, message_store
from support_bot.streams import publish

# --- asking for a person: routing's rule, applied the moment the message arrives ----------


def wants_a_person(text: str) -> bool:
    """Does the shopper ask for a person (en, de, fr, es)? The same rule routing gives as a reason."""
    return asks_for_person(text)


_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+\.[A-Za-z]{2,}")


def email_in(text: str) -> str | None:
    """The one email address in a short message, if it holds exactly one."""
    if len(text) > 300:
        return None
    found = _EMAIL_IN_TEXT.findall(text)
    if len(found) != 1:
        return None
    candidate = found[0].rstrip(".")
    try:
        validate_email(candidate)
    except ValidationError:
        return None
    return candidate


# --- the shopper's message, with the handoff rules ---------------------------------------


@dataclass(frozen=True)
class ShopperMessage:
    received: Received
    escalation: EscalationResult | None
    contact_email: str | None


@transaction.atomic
def shopper_message_receive(
    *, conversation_id: int, text: str, client_id: uuid.UUID
) -> ShopperMessage:
    """Store a shopper message; reopen, escalate or take a contact address as it asks.

    A message in a resolved conversation reopens it for the bot; an explicit request for
    a person is stored without a bot reply and escalates; an email address sent while
    waiting is kept to answer later. Agent consoles see the message live.
    """
    # One lock, and no look for a resend: this runs for every message a shopper sends, and
    # ``message_store`` knows a resend by its client_id (the unique constraint).
    conversation = _lock_for_message(conversation_id)
    if conversation.state == State.RESOLVED:
        # Here a resend must be known before it reopens the conversation.
        resent = message_received_before(conversation=conversation, client_id=client_id)
        if resent is not None:
            return ShopperMessage(resent, None, None)
        _reopen(conversation)
    asks = conversation.state == State.BOT and wants_a_person(text)
    received = message_store(
        conversation=conversation, text=text, client_id=client_id, queue_reply=not asks
    )
    if not received.created:
        return ShopperMessage(received, None, None)
    frame = {
        "type": "message",
        "conversation_id": conversation_id,
        "message_id": received.shopper_message_id,
        "role": Message.Role.SHOPPER,
        "text": text,
    }
    agents_group = conversation.agents_group_name
    _after_commit(lambda: publish(agents_group, frame))
    escalation = None
    if asks:
        # The notice that a person is coming is in the language the shopper asked in.
        conversation_language_follow(
            conversation_id=conversation_id,
            current=conversation.language,
            written=message_language(text),
        )
        escalation = conversation_escalate(
            conversation_id=conversation_id, reasons=[ASKED_FOR_PERSON]
        )
        conversation.refresh_from_db(fields=["state", "contact_email"])
    contact = None
    found = email_in(text)
    if conversation.state == State.WAITING and not conversation.contact_email and found:
        contact = contact_email_record(conversation_id=conversation_id, email=found)
    return ShopperMessage(received, escalation, contact)


def shopper_typing_frame(*, conversation_id: int) -> dict[str, Any]:
    return {"type": "typing", "role": "shopper", "conversation_id": conversation_id}
