"""Mounted at /admin/costs/ ahead of the admin's own URLs (see support_bot.urls)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from support_bot.cost_report import views

urlpatterns = [
    path("", admin.site.admin_view(views.cost_report), name="cost-report"),
    path("export.csv", admin.site.admin_view(views.cost_report_csv), name="cost-report-csv"),
]
