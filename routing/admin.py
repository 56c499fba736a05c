"""Admin for the LLM gateway: providers, their models and prices, the tiers each model
serves, the intent catalogue, and the ledger.

Every edit takes effect on the next message, in every process: the gateway compares the
routing table's rows before each call, and the classifier the catalogue's version. The
ledger is written once per call, with the prices of that moment, so it is read-only
here: a price edited today never rewrites yesterday's costs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from routing.models import (
    Intent,
    IntentAnswer,
    IntentExample,
    LLMCall,
    LLMModel,
    Provider,
    TierRoute,
)


class ReadOnlyAdminMixin:
    """For records written once by the app (the ledger, the handoff's audit trail)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TierRouteInline(admin.TabularInline):
    model = TierRoute
    fields = ("tier", "priority")
    extra = 0
    verbose_name = "tier it serves"
    verbose_name_plural = "tiers it serves (lower priority is tried first)"


class ProviderModelInline(admin.TabularInline):
    model = LLMModel
    fields = ("label", "name", "input_price_per_mtok", "output_price_per_mtok", "enabled")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "base_url",
        "api_key_env",
        "key_status",
        "requests_per_minute",
        "tokens_per_minute",
        "enabled",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "base_url")
    inlines = [ProviderModelInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.display(description="API key")
    def key_status(self, provider: Provider) -> str:
        # Whether the variable is set in this process's environment; never its value.
        if not provider.api_key_env:
            return "not needed"
        return "set" if provider.api_key else "missing: its models are not used"


@admin.register(LLMModel)
class LLMModelAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "name",
        "provider",
        "tiers",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "context_window",
        "max_output_tokens",
        "enabled",
        "usable",
    )
    list_filter = ("enabled", "provider", "routes__tier")
    list_select_related = ("provider",)
    search_fields = ("label", "name", "provider__name")
    inlines = [TierRouteInline]
    fieldsets = (
        (None, {"fields": ("provider", "name", "label", "enabled")}),
        (
            "Prices (USD per million tokens; each ledger row keeps the prices of its moment)",
            {
                "fields": (
                    "input_price_per_mtok",
                    "output_price_per_mtok",
                    "cached_input_price_per_mtok",
                )
            },
        ),
        ("Limits", {"fields": ("context_window", "max_output_tokens")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[LLMModel]:
        return super().get_queryset(request).prefetch_related("routes")

    @admin.display(description="tiers")
    def tiers(self, model: LLMModel) -> str:
        return ", ".join(str(route.tier) for route in model.routes.all()) or "none"

    @admin.display(description="used", boolean=True)
    def usable(self, model: LLMModel) -> bool:
        return model.enabled and model.provider.enabled and model.provider.has_key


class IntentExampleInline(admin.TabularInline):
    model = IntentExample
    fields = ("text",)
    extra = 3


class IntentAnswerInline(admin.StackedInline):
    model = IntentAnswer
    fields = ("language", "text", "any_details", "enabled")
    extra = 0
    verbose_name_plural = (
        "written answers: sent as written, with no model, to a question that is plainly "
        "this intent (general, naming nothing else); anything more specific goes to a model"
    )


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "tier0", "escalate", "phrasings", "answers", "description")
    list_filter = ("tier", "tier0", "escalate")
    search_fields = ("name", "description", "examples__text")
    inlines = [IntentAnswerInline, IntentExampleInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Intent]:
        return (
            super()
            .get_queryset(request)
            .annotate(phrasing_count=Count("examples", distinct=True))
            .prefetch_related("answers")
        )

    @admin.display(description="phrasings", ordering="phrasing_count")
    def phrasings(self, intent: Any) -> int:
        return int(intent.phrasing_count)

    @admin.display(description="written answers")
    def answers(self, intent: Intent) -> str:
        return ", ".join(a.language for a in intent.answers.all() if a.enabled) or "-"


@admin.register(IntentAnswer)
class IntentAnswerAdmin(admin.ModelAdmin):
    list_display = ("intent", "language", "excerpt", "any_details", "enabled", "updated_at")
    list_filter = ("language", "enabled", "any_details")
    list_select_related = ("intent",)
    search_fields = ("intent__name", "text")
    fields = ("intent", "language", "text", "any_details", "enabled")

    @admin.display(description="answer")
    def excerpt(self, answer: IntentAnswer) -> str:
        return answer.text if len(answer.text) <= 90 else answer.text[:89] + "…"


@admin.register(LLMCall)
class LLMCallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "tier",
        "outcome",
        "provider",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "usage_estimated",
        "cost_usd",
        "avoided_cost_usd",
        "ttft_ms",
        "total_ms",
        "error_class",
    )
    list_filter = ("outcome", "tier", "provider", "usage_estimated")
    date_hierarchy = "created_at"
    # A million rows: no COUNT(*) of the whole table on every page.
    show_full_result_count = False
    raw_id_fields = ("conversation", "message", "llm_model")
