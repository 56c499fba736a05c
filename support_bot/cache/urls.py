"""Mounted at /admin/cache/ ahead of the admin's own URLs (see support_bot.urls)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from support_bot.cache import views

urlpatterns = [
    path("", admin.site.admin_view(views.cache_overview), name="cache-overview"),
]
