"""The agent console page; everything live happens over /ws/agent/."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from support_bot.services.handoff import agent_display_name, user_is_agent


@require_GET
@login_required
def agent_console(request: HttpRequest) -> HttpResponse:
    if not user_is_agent(user=request.user):
        raise PermissionDenied("The console is for support agents.")
    return render(
        request,
        "agent/console.html",
        {
            "shop_name": settings.SHOP_NAME,
            "agent_name": agent_display_name(request.user),  # type: ignore[arg-type]
        },
    )
