"""Admin for conversations and the handoff records.

Conversations change state only through the handoff services, and the audit trail is
written once: both are read-only here. Canned replies are what admins edit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from routing.admin import ReadOnlyAdminMixin
from support_bot.models import (
    AgentAction,
    AgentPresence,
    CannedReply,
    Conversation,
    InternalNote,
    Message,
    Rating,
)


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ("created_at", "role", "status", "text", "error_code")
    readonly_fields = fields
    extra = 0
    ordering = ("created_at", "id")


class InternalNoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InternalNote
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    extra = 0


class AgentActionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AgentAction
    fields = ("created_at", "kind", "agent", "detail")
    readonly_fields = fields
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "customer",
        "state",
        "language",
        "assigned_agent",
        "escalated_at",
        "resolution",
        "updated_at",
    )
    list_filter = ("state", "resolution", "language", "identity")
    search_fields = ("public_id", "customer__name", "customer__email", "contact_email")
    list_select_related = ("customer", "assigned_agent")
    date_hierarchy = "created_at"
    inlines = [MessageInline, InternalNoteInline, AgentActionInline]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Erasing a shopper's conversation on request stays possible for superusers.
        return bool(request.user.is_superuser)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "language", "text", "updated_at")
    list_filter = ("language",)
    search_fields = ("title", "text")


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("conversation", "score", "comment", "created_at")
    list_filter = ("score",)
    search_fields = ("comment",)
    list_select_related = ("conversation",)
    date_hierarchy = "created_at"


@admin.register(AgentAction)
class AgentActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "kind", "agent", "conversation")
    list_filter = ("kind",)
    search_fields = ("agent__username", "conversation__public_id")
    list_select_related = ("agent", "conversation")
    date_hierarchy = "created_at"


@admin.register(AgentPresence)
class AgentPresenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("agent", "available", "last_seen_at")
