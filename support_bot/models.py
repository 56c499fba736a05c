"""Conversations between a shopper and the bot (and later a support agent).

State changes go through ``support_bot.services``; nothing here decides anything.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Conversation(models.Model):
    class State(models.TextChoices):
        BOT = "bot", "With the bot"
        WAITING = "waiting", "Waiting for an agent"
        AGENT = "agent", "With an agent"
        RESOLVED = "resolved", "Resolved"

    class Identity(models.TextChoices):
        ANONYMOUS = "anonymous", "Anonymous"
        # The shop's backend signed the customer's id: resuming needs that token again.
        TOKEN = "token", "Signed in at the shop"
        # An anonymous shopper proved an order was theirs (order number + email/postcode).
        VERIFIED = "verified", "Verified by order"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        "orders.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="conversations",
    )
    identity = models.CharField(max_length=10, choices=Identity.choices, default=Identity.ANONYMOUS)
    state = models.CharField(max_length=10, choices=State.choices, default=State.BOT)
    language = models.CharField(max_length=8, default="en")

    class Resolution(models.TextChoices):
        BOT = "bot", "Resolved by the bot"
        AGENT = "agent", "Resolved by an agent"

    # Filled by the handoff services; the cost report reads them.
    escalated_at = models.DateTimeField(null=True, blank=True)
    escalation_reasons = models.JSONField(default=list, blank=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=6, choices=Resolution.choices, blank=True)
    # Left by a shopper who was waiting while nobody was on duty: the way to answer later.
    contact_email = models.EmailField(max_length=254, blank=True)
    # Conversation memory: turns older than the recent window, folded into a summary
    # once and reused; ``memory_upto`` is the last message id folded in.
    memory_summary = models.TextField(blank=True)
    memory_upto = models.PositiveBigIntegerField(default=0)
    verify_failures = models.PositiveIntegerField(default=0)
    verify_locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["state", "-updated_at"]),
            # The cost report counts conversations started, escalated and resolved in a
            # date range over hundreds of thousands of rows.
            models.Index(fields=["created_at"], name="conversation_created_idx"),
            models.Index(fields=["escalated_at"], name="conversation_escalated_idx"),
            models.Index(fields=["resolved_at"], name="conversation_resolved_idx"),
        ]

    def __str__(self) -> str:
        return f"Conversation {str(self.public_id)[:8]}"

    @property
    def group_name(self) -> str:
        """The channel-layer group every open widget of this conversation listens on."""
        return self.group_name_of(self.public_id)

    @staticmethod
    def group_name_of(public_id: uuid.UUID) -> str:
        return f"conversation.{public_id.hex}"

    @property
    def agents_group_name(self) -> str:
        """Agent consoles viewing this conversation: internal frames no widget receives."""
        return f"agents.conversation.{self.public_id.hex}"


class Message(models.Model):
    class Role(models.TextChoices):
        SHOPPER = "shopper", "Shopper"
        BOT = "bot", "Bot"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        GENERATING = "generating", "Generating"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DONE)
    text = models.TextField(blank=True)
    # The widget's own id for a shopper message: a re-send after a reconnect is recognised.
    client_id = models.UUIDField(null=True, blank=True)
    reply_to = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    error_code = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # A generating reply: its worker's last sign of life. A queued one: when it was last
    # sent to the queue again (services.messages.replies_stalled_take).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            )
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(
                fields=["created_at"],
                condition=Q(role="shopper"),
                name="message_shopper_created_idx",
            ),
            # The sweep for replies nobody is writing reads only the open ones.
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["queued", "generating"]),
                name="message_open_reply_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class Rating(models.Model):
    """CSAT: the shopper's 1-5 rating of a resolved conversation."""

    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="rating"
    )
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="rating_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__gte=1) & Q(score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score}/5"


# --- human escalation (support_bot.services.handoff) --------------------------------------


class AgentAction(models.Model):
    """The audit trail of a conversation changing hands; written once, never edited."""

    class Kind(models.TextChoices):
        ESCALATED = "escalated", "Escalated"
        CLAIMED = "claimed", "Claimed"
        REPLIED = "replied", "Replied"
        RESOLVED = "resolved", "Resolved"
        HANDED_BACK = "handed_back", "Handed back to the bot"
        REASSIGNED = "reassigned", "Reassigned"
        NOTED = "noted", "Internal note"
        REOPENED = "reopened", "Reopened"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="agent_actions"
    )
    # Null when no agent acted: the bot, routing or the shopper.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_actions",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M})"


class InternalNote(models.Model):
    """A note between agents about a conversation; the shopper never sees it."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="support_notes",
    )
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:40]


class CannedReply(models.Model):
    """A ready-made answer agents insert into their reply box and adapt."""

    title = models.CharField(max_length=80)
    text = models.TextField(max_length=4000)
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "title"]
        verbose_name_plural = "canned replies"
        constraints = [
            models.UniqueConstraint(fields=["language", "title"], name="canned_reply_unique_title")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.language})"


class AgentPresence(models.Model):
    """When an agent's console last reported in; "on duty" is derived from it.

    Updated by the agent websocket's heartbeat, so it holds across processes and a
    crashed browser simply stops counting after the window.
    """

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="support_presence"
    )
    last_seen_at = models.DateTimeField()
    # The agent's own switch: connected but away does not count as on duty.
    available = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "agent presence"

    def __str__(self) -> str:
        return f"{self.agent} seen {self.last_seen_at:%H:%M:%S}"
