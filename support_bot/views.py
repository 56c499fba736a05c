from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orders.models import Customer
from support_bot.identity import customer_token_make

DEMO_CUSTOMERS = 8
DAY = 86_400


@require_GET
def shop_home(request: HttpRequest) -> HttpResponse:
    """The demo shop: a visitor may act as one of its customers, as if logged in.

    The page signs that customer's token server-side, exactly as a real shop's backend
    would, and hands it to the widget's script tag.
    """
    choices = list(Customer.objects.order_by("external_id")[:DEMO_CUSTOMERS])
    chosen = request.GET.get("as", "")
    customer = next((c for c in choices if c.external_id == chosen), None)
    token = ""
    if customer is not None:
        # The expiry is rounded to the day so the token (and with it the widget's stored
        # conversation) stays the same across page loads.
        expires = (int(time.time()) // DAY + 2) * DAY
        token = customer_token_make(
            external_id=customer.external_id, ttl_seconds=expires - int(time.time())
        )
    return render(
        request,
        "shop/home.html",
        {
            "shop_name": settings.SHOP_NAME,
            "choices": choices,
            "customer": customer,
            "customer_token": token,
            "orders": customer.orders.order_by("-placed_at")[:5] if customer else [],
        },
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True, "database": connection.vendor})
