"""Agents and their presence: who may take conversations, and who is on duty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from support_bot.models import (
    AgentPresence,
)
from support_bot.services.handoff.common import (
    PRESENCE_WINDOW,
    SUPPORT_AGENTS_GROUP,
    _after_commit,
    _publish_board_change,
)
from support_bot.services.handoff.errors import NotAnAgent


def _agents() -> Any:
    return User.objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(groups__name=SUPPORT_AGENTS_GROUP)
    )


def user_is_agent(*, user: Any) -> bool:
    """Members of the "Support agents" group, and superusers."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser or user.groups.filter(name=SUPPORT_AGENTS_GROUP).exists())


def agent_display_name(user: User) -> str:
    return user.get_full_name() or user.username


def agent_presence_touch(*, agent_id: int) -> None:
    """The agent's console is alive (called on connect and on every heartbeat)."""
    AgentPresence.objects.update_or_create(
        agent_id=agent_id, defaults={"last_seen_at": timezone.now()}
    )


def agent_availability_set(*, agent_id: int, available: bool) -> None:
    AgentPresence.objects.update_or_create(
        agent_id=agent_id, defaults={"available": available, "last_seen_at": timezone.now()}
    )
    _after_commit(lambda: _publish_board_change("presence", None, agent_id))


@dataclass(frozen=True)
class AgentCard:
    id: int
    name: str


def agents_on_duty() -> list[AgentCard]:
    cutoff = timezone.now() - PRESENCE_WINDOW
    users = (
        _agents()
        .filter(support_presence__available=True, support_presence__last_seen_at__gte=cutoff)
        .distinct()
        .order_by("first_name", "username")
    )
    return [AgentCard(id=user.pk, name=agent_display_name(user)) for user in users]


def _require_agent(agent_id: int) -> User:
    user = _agents().filter(pk=agent_id).first()
    if user is None:
        raise NotAnAgent("Only support agents can do that.")
    return user
