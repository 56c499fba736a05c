from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from support_bot import agent_views, views

urlpatterns = [
    path("", views.shop_home, name="shop-home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/costs/", include("support_bot.cost_report.urls")),
    path("admin/cache/", include("support_bot.cache.urls")),
    path("admin/", admin.site.urls),
    path("agent/", agent_views.agent_console, name="agent-console"),
    path("agent/login/", agent_views.agent_login, name="agent-login"),
    path("agent/logout/", agent_views.agent_logout, name="agent-logout"),
]
