"""Providers, their models and prices, which tier each model serves, and the cost ledger."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def price_field(verbose_name: str | None = None, **options: Any) -> models.DecimalField:
    """USD per million tokens."""
    return models.DecimalField(verbose_name, max_digits=10, decimal_places=4, **options)


def cost_field(**options: Any) -> models.DecimalField:
    # Costs are fractions of a cent per call; rounding happens only for display.
    return models.DecimalField(max_digits=18, decimal_places=10, **options)


class Tier(models.IntegerChoices):
    DATABASE = 0, "Tier 0: answered from the shop's data"
    CHEAP = 1, "Tier 1: cheap model"
    MID = 2, "Tier 2: mid model"
    PREMIUM = 3, "Tier 3: premium model"


class Provider(models.Model):
    """An OpenAI-compatible chat-completions endpoint."""

    name = models.CharField(max_length=60, unique=True)
    base_url = models.URLField(help_text="e.g. https://api.openai.com/v1")
    base_url_env = models.CharField(
        max_length=60,
        blank=True,
        help_text="Optional: an environment variable that overrides the base URL.",
    )
    api_key_env = models.CharField(
        max_length=60,
        blank=True,
        help_text="The NAME of the environment variable holding the API key (never the key). "
        "Blank: the endpoint needs no key.",
    )
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.base_url and urlsplit(self.base_url).scheme not in ("http", "https"):
            errors["base_url"] = "The endpoint must be an http:// or https:// URL."
        for field in ("api_key_env", "base_url_env"):
            value = getattr(self, field)
            if value and not _ENV_NAME.fullmatch(value):
                errors[field] = (
                    "Enter the NAME of an environment variable (letters, digits and "
                    "underscores, e.g. OPENAI_API_KEY), never the key itself."
                )
        if errors:
            raise ValidationError(errors)

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    @property
    def has_key(self) -> bool:
        return not self.api_key_env or bool(self.api_key)

    @property
    def url(self) -> str:
        override = os.environ.get(self.base_url_env) if self.base_url_env else None
        return override or self.base_url


class LLMModel(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=100, help_text="The model id sent to the provider.")
    label = models.CharField(max_length=100, help_text="As finance reads it, e.g. GPT-4.1.")
    input_price_per_mtok = price_field("input $ / 1M tokens", default=Decimal("0"))
    output_price_per_mtok = price_field("output $ / 1M tokens", default=Decimal("0"))
    cached_input_price_per_mtok = price_field(
        "cached input $ / 1M tokens",
        null=True,
        blank=True,
        help_text="Blank: cached input tokens cost the same as input tokens.",
    )
    context_window = models.PositiveIntegerField(default=8192)
    max_output_tokens = models.PositiveIntegerField(default=512)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider__name", "name"]
        verbose_name = "LLM model"
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="llm_model_unique_name"),
            models.CheckConstraint(
                condition=Q(input_price_per_mtok__gte=0) & Q(output_price_per_mtok__gte=0),
                name="llm_model_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.label or self.name

    def clean(self) -> None:
        out, window = self.max_output_tokens, self.context_window
        if out is not None and window is not None and not 0 < out < window:
            raise ValidationError(
                {
                    "max_output_tokens": "Must be at least 1 and leave room for the "
                    "prompt in the context window."
                }
            )


class TierRoute(models.Model):
    """A model serving a tier; ``priority`` orders the fallback chain within the tier."""

    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    model = models.ForeignKey(LLMModel, on_delete=models.CASCADE, related_name="routes")
    priority = models.PositiveSmallIntegerField(default=10, help_text="Lower is tried first.")

    class Meta:
        ordering = ["tier", "priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "model"], name="tier_route_unique"),
            models.CheckConstraint(
                condition=Q(tier__gte=1) & Q(tier__lte=3), name="tier_route_llm_tier"
            ),
        ]

    def __str__(self) -> str:
        return f"tier {self.tier}: {self.model} (priority {self.priority})"


class LLMCall(models.Model):
    """The ledger: one row per attempt, tier-0 answer or cache hit, priced when it happened."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        FALLBACK = "fallback", "Failed, fell back"
        PARTIAL = "partial", "Broke off mid-stream"
        CACHE_HIT = "cache_hit", "Cache hit"
        TIER0 = "tier0", "Tier 0 (no LLM)"

    created_at = models.DateTimeField(db_index=True)
    conversation = models.ForeignKey(
        "support_bot.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    message = models.ForeignKey(
        "support_bot.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    # Provider and model names are snapshots: the report must not change when the
    # registry is edited, and grouping by text needs no join over a million rows.
    provider = models.CharField(max_length=60, blank=True)
    model = models.CharField(max_length=100, blank=True)
    llm_model = models.ForeignKey(
        LLMModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cached_tokens = models.PositiveIntegerField(default=0)
    usage_estimated = models.BooleanField(default=False)
    input_price_per_mtok = price_field(default=Decimal("0"))
    output_price_per_mtok = price_field(default=Decimal("0"))
    cached_input_price_per_mtok = price_field(default=Decimal("0"))
    cost_usd = cost_field(default=Decimal("0"))
    avoided_cost_usd = cost_field(
        default=Decimal("0"),
        help_text="For cache hits and tier-0 answers: what the call would have cost.",
    )
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error_class = models.CharField(max_length=40, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM call"
        indexes = [
            # Holds every column the cost report reads, so that its aggregates over a
            # million rows are index-only scans on PostgreSQL. Key columns rather than
            # INCLUDE: SQLite has no covering indexes, and Django warns about them there.
            models.Index(
                fields=[
                    "created_at",
                    "provider",
                    "model",
                    "tier",
                    "outcome",
                    "prompt_tokens",
                    "completion_tokens",
                    "cached_tokens",
                    "cost_usd",
                    "avoided_cost_usd",
                    "conversation",
                ],
                name="llmcall_report_cover_idx",
            ),
            models.Index(fields=["conversation", "created_at"], name="llmcall_conversation_idx"),
        ]
        permissions = [("view_cost_report", "Can view the cost report")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.model or self.outcome} ${self.cost_usd}"


class Intent(models.Model):
    """A kind of shopper request, and the cheapest tier that answers it well."""

    name = models.SlugField(max_length=60, unique=True)
    description = models.CharField(max_length=200, blank=True)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    tier0 = models.BooleanField(
        "answerable from the shop's data",
        default=False,
        help_text="Tier 0 answers it for a verified customer with no model at all.",
    )
    escalate = models.BooleanField(default=False, help_text="Always hand to a person.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tier", "name"]

    def __str__(self) -> str:
        return self.name


class IntentExample(models.Model):
    """A phrasing of an intent; the classifier compares messages with these."""

    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="examples")
    text = models.CharField(max_length=300)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["intent", "id"]
        constraints = [
            models.UniqueConstraint(fields=["intent", "text"], name="intent_example_unique")
        ]

    def __str__(self) -> str:
        return self.text


class IntentAnswer(models.Model):
    """The shop's own answer to an intent, in one language.

    A question that is plainly of that intent (confident, general, naming nothing the
    answer does not cover) gets it as written, with no model: tier 0, instant, exactly
    the shop's words. Anything more specific still goes to a model.
    """

    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="answers")
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    text = models.TextField(max_length=2000)
    any_details = models.BooleanField(
        "also when the question names specifics",
        default=False,
        help_text="Serve it even when the question names a country, product, size, colour "
        "or amount. Only for an answer that covers them all (a list of every country you "
        "ship to does; 'Shipping is free over USD 75' does not answer 'to Canada?').",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["intent", "language"]
        verbose_name = "written answer"
        constraints = [
            models.UniqueConstraint(fields=["intent", "language"], name="intent_answer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.intent} ({self.language})"

    def clean(self) -> None:
        if not (self.text or "").strip():
            raise ValidationError({"text": "Write the answer the shopper should get."})
        intent = Intent.objects.filter(pk=self.intent_id).first() if self.intent_id else None
        if intent is not None and (intent.tier0 or intent.escalate):
            raise ValidationError(
                {
                    "intent": "This intent is answered from the customer's own orders or "
                    "handed to a person; a written answer would never be sent."
                }
            )
