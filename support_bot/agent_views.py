"""The agent console page and its sign-in; everything live happens over /ws/agent/.

Agents sign in on a page of their own: the admin's login admits staff only, and an
agent is a member of the "Support agents" group, not staff (finance and admins are).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from support_bot.services.handoff import agent_display_name, user_is_agent


class AgentAuthenticationForm(AuthenticationForm):
    """The usual username and password, for members of the support team only."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_agent": "This account is not on the support team. Ask an admin to add it to "
        "the “Support agents” group.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not user_is_agent(user=user):
            raise forms.ValidationError(self.error_messages["not_agent"], code="not_agent")


class AgentLoginView(auth_views.LoginView):
    template_name = "agent/login.html"
    authentication_form = AgentAuthenticationForm
    redirect_authenticated_user = True
    next_page = "agent-console"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "shop_name": settings.SHOP_NAME}


agent_login = AgentLoginView.as_view()
agent_logout = auth_views.LogoutView.as_view(next_page="agent-login")


@require_GET
@login_required(login_url="agent-login")
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
