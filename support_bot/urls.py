from __future__ import annotations

from django.contrib import admin
from django.urls import path

from support_bot import views

urlpatterns = [
    path("", views.shop_home, name="shop-home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
