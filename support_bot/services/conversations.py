"""Starting, resuming and verifying conversations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from orders.models import Customer
from orders.selectors import order_owner_for_verification
from support_bot.models import Conversation

_TOKEN_SALT = "support_bot.conversation"


class ConversationForbidden(Exception):
    """The conversation token belongs to someone else (another signed-in customer)."""


class VerificationLocked(Exception):
    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(f"locked until {until.isoformat()}")


class VerificationFailed(Exception):
    pass


def conversation_token(conversation: Conversation) -> str:
    return signing.dumps(conversation.public_id.hex, salt=_TOKEN_SALT, compress=False)


def _conversation_from_token(token: str) -> Conversation | None:
    try:
        public_hex = signing.loads(token, salt=_TOKEN_SALT)
        public_id = uuid.UUID(hex=str(public_hex))
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return Conversation.objects.select_related("customer").filter(public_id=public_id).first()


def conversation_open(
    *, token: str | None, customer: Customer | None, language: str | None
) -> Conversation:
    """Resume the conversation named by ``token`` if this shopper may, else start one.

    A conversation started by a signed-in customer resumes only for that customer; one
    that an anonymous shopper verified by order resumes for whoever holds its token
    (the token is their only credential) unless a different customer is signed in.
    """
    existing = _conversation_from_token(token) if token else None
    if existing is not None:
        if existing.customer_id is not None and customer is not None:
            if existing.customer_id != customer.pk:
                raise ConversationForbidden()
            return existing
        if existing.identity == Conversation.Identity.TOKEN and customer is None:
            raise ConversationForbidden()
        if existing.customer_id is None and customer is not None:
            return _attach(existing, customer)
        return existing
    return Conversation.objects.create(
        customer=customer,
        identity=Conversation.Identity.TOKEN if customer else Conversation.Identity.ANONYMOUS,
        language=_language(language, customer),
    )


def _language(language: str | None, customer: Customer | None) -> str:
    known = {code for code, _ in settings.LANGUAGES}
    if language in known:
        return str(language)
    return customer.language if customer else "en"


def _attach(conversation: Conversation, customer: Customer) -> Conversation:
    conversation.customer = customer
    conversation.identity = Conversation.Identity.TOKEN
    conversation.save(update_fields=["customer", "identity", "updated_at"])
    return conversation


def conversation_verify(*, conversation_id: int, order_number: str, contact: str) -> Customer:
    """Attach the order's customer if the contact detail matches; count failures.

    The answer to a wrong guess is the same whether or not the order exists, and a few
    failures lock verification for a while, so order numbers cannot be probed.
    """
    customer, locked_until = _verify(conversation_id, order_number, contact)
    if locked_until is not None:
        raise VerificationLocked(locked_until)
    if customer is None:
        raise VerificationFailed()
    return customer


@transaction.atomic
def _verify(
    conversation_id: int, order_number: str, contact: str
) -> tuple[Customer | None, datetime | None]:
    # Returns instead of raising so that the failure count commits.
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    now = timezone.now()
    if conversation.verify_locked_until and conversation.verify_locked_until > now:
        return None, conversation.verify_locked_until
    customer = order_owner_for_verification(order_number=order_number, contact=contact)
    if customer is None or conversation.customer_id not in (None, customer.pk):
        conversation.verify_failures += 1
        if conversation.verify_failures >= settings.VERIFY_MAX_FAILURES:
            conversation.verify_locked_until = now + timedelta(minutes=settings.VERIFY_LOCK_MINUTES)
            conversation.verify_failures = 0
        conversation.save(update_fields=["verify_failures", "verify_locked_until", "updated_at"])
        locked = conversation.verify_locked_until
        return None, locked if locked is not None and locked > now else None
    conversation.customer = customer
    if conversation.identity != Conversation.Identity.TOKEN:
        conversation.identity = Conversation.Identity.VERIFIED
    conversation.verify_failures = 0
    conversation.save(update_fields=["customer", "identity", "verify_failures", "updated_at"])
    return customer, None


def conversation_language_follow(*, conversation_id: int, current: str, written: str | None) -> str:
    """The conversation's language once the shopper has written in ``written`` (a message's
    language, ``routing.language``; None when unclear). Another of the bot's languages
    becomes the conversation's: answers, notices and the agents' console follow it."""
    if written is None or written == current:
        return current
    Conversation.objects.filter(pk=conversation_id).update(language=written)
    return written


def conversation_memory_save(*, conversation_id: int, summary: str, upto: int) -> None:
    """Store the folded summary; a slower worker never overwrites a newer one."""
    Conversation.objects.filter(pk=conversation_id, memory_upto__lt=upto).update(
        memory_summary=summary, memory_upto=upto
    )
