"""The web side's guards: every staff page needs a staff login, forms need their CSRF
token, and oversized import files are refused before they are read."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from orders.import_schema import ShopImportError
from orders.models import Customer
from orders.services.shop_import import shop_import_file

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

STAFF_PAGES = ["/agent/", "/admin/", "/admin/costs/", "/admin/costs/export.csv", "/admin/cache/"]


def _admin_pages() -> list[str]:
    """Every model's list and add page the admin registers."""
    pages = []
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
    return pages


def test_every_staff_page_sends_strangers_and_shoppers_to_the_login(
    client: Client, figures: Counter[str]
) -> None:
    shopper = User.objects.create_user("shopper", "s@example.com", "shopper-pw-1")
    pages = STAFF_PAGES + _admin_pages()
    assert len(pages) > 10
    for who in ("anonymous", "non-staff"):
        if who == "non-staff":
            client.force_login(shopper)
        for page in pages:
            response = client.get(page)
            figures["probes sent"] += 1
            assert response.status_code in (302, 403), (who, page, response.status_code)
            if response.status_code == 302:
                # Agents sign in on the console's own page; everyone else on the admin's.
                login = "/agent/login/" if page.startswith("/agent/") else "/admin/login/"
                assert response["Location"].startswith(login), (who, page)


def test_a_form_post_without_its_csrf_token_is_refused(figures: Counter[str]) -> None:
    boss = User.objects.create_superuser("boss", "boss@example.com", "boss-pw-123")
    client = Client(enforce_csrf_checks=True)
    client.force_login(boss)
    figures["probes sent"] += 2
    flush = client.post("/admin/cache/", {"scope": "shared"})
    assert flush.status_code == 403
    customer_add = reverse("admin:orders_customer_add")
    response = client.post(customer_add, {"external_id": "X-1", "name": "Mallory"})
    assert response.status_code == 403
    assert not Customer.objects.filter(external_id="X-1").exists()
    # With the token from the page, the same form goes through.
    page = client.get(customer_add)
    token = page.cookies["csrftoken"].value
    accepted = client.post(
        customer_add, {"external_id": "X-1", "name": "Mallory", "csrfmiddlewaretoken": token}
    )
    assert accepted.status_code != 403


def test_an_oversized_import_file_is_refused_before_it_is_read(
    tmp_path: Path, figures: Counter[str]
) -> None:
    path = tmp_path / "shop.json"
    path.write_text(json.dumps({"customers": [{"id": "C-9", "name": "x" * 4000}]}))
    figures["fuzz cases"] += 1
    with pytest.raises(ShopImportError) as refused:
        shop_import_file(path=path, max_bytes=1024)
    assert "over the import limit" in refused.value.errors[0]
    assert not Customer.objects.exists()
