"""The answer cache's admin page: hit rate, savings, entries, and flushing by scope.

Mounted at /admin/cache/ inside ``admin.site.admin_view`` (see ``urls``): staff only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from orders.models import Customer
from support_bot.cache.selectors import cache_figures
from support_bot.cache.services import cache_flush


@require_http_methods(["GET", "POST"])
def cache_overview(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _flush(request)
        return HttpResponseRedirect(reverse("cache-overview"))
    context = {
        **admin.site.each_context(request),
        "title": "Answer cache",
        "figures": cache_figures(),
    }
    return TemplateResponse(request, "admin/cache/overview.html", context)


def _flush(request: HttpRequest) -> None:
    scope = request.POST.get("scope", "")
    if scope == "shared":
        removed = cache_flush(scope="shared")
        messages.success(request, f"Removed {removed} shared answers.")
    elif scope == "customer":
        reference = request.POST.get("customer", "").strip()
        customer = _customer(reference)
        if customer is None:
            messages.error(request, f"No customer {reference!r} (give an id, shop id or email).")
            return
        removed = cache_flush(scope=f"customer:{customer.pk}")
        messages.success(request, f"Removed {removed} answers cached for {customer.name}.")
    elif scope == "all":
        removed = cache_flush(scope=None)
        messages.success(request, f"Emptied the cache ({removed} answers).")
    else:
        messages.error(request, "Choose what to flush.")


def _customer(reference: str) -> Customer | None:
    if not reference:
        return None
    found = Customer.objects.filter(external_id=reference).first()
    if found is None and "@" in reference:
        found = Customer.objects.filter(email__iexact=reference).first()
    if found is None and reference.isdigit():
        found = Customer.objects.filter(pk=int(reference)).first()
    return found
