"""The gateway's admin: providers, models and prices, tiers, the intent catalogue, the
ledger. What an admin edits there is what the next message is routed and priced with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from routing import classifier
from routing.classifier import classify
from routing.embeddings import embed
from routing.gateway import candidates
from routing.models import Intent, LLMCall, LLMModel, Provider, TierRoute

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def management(prefix: str, total: int, initial: int) -> dict[str, Any]:
    return {
        f"{prefix}-TOTAL_FORMS": total,
        f"{prefix}-INITIAL_FORMS": initial,
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }


def model_form(model: LLMModel, **changes: Any) -> dict[str, Any]:
    """The change form of ``model`` as the admin renders it, with ``changes``."""
    data: dict[str, Any] = {
        "provider": model.provider_id,
        "name": model.name,
        "label": model.label,
        "enabled": "on" if model.enabled else "",
        "input_price_per_mtok": model.input_price_per_mtok,
        "output_price_per_mtok": model.output_price_per_mtok,
        "cached_input_price_per_mtok": model.cached_input_price_per_mtok or "",
        "context_window": model.context_window,
        "max_output_tokens": model.max_output_tokens,
    }
    routes = list(model.routes.all())
    data.update(management("routes", len(routes), len(routes)))
    for i, route in enumerate(routes):
        data.update(
            {
                f"routes-{i}-id": route.pk,
                f"routes-{i}-model": model.pk,
                f"routes-{i}-tier": route.tier,
                f"routes-{i}-priority": route.priority,
            }
        )
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_the_admin_lists_the_gateway_for_a_superuser(admin_client: Client) -> None:
    page = admin_client.get("/admin/").content.decode()
    for path in ("provider", "llmmodel", "intent", "llmcall"):
        assert f'href="/admin/routing/{path}/"' in page
    models = admin_client.get("/admin/routing/llmmodel/").content.decode()
    assert "GPT-4.1" in models and "Gemini 2.5 Flash" in models


def test_a_provider_shows_whether_its_key_is_set_never_the_key(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    page = admin_client.get("/admin/routing/provider/").content.decode()
    assert "missing: its models are not used" in page

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value-123")
    openai = Provider.objects.get(name="OpenAI")
    listing = admin_client.get("/admin/routing/provider/").content.decode()
    detail = admin_client.get(f"/admin/routing/provider/{openai.pk}/change/").content.decode()
    assert "OPENAI_API_KEY" in listing
    assert "sk-test-secret-value-123" not in listing + detail


def test_a_key_pasted_where_its_variable_name_belongs_is_refused(admin_client: Client) -> None:
    openai = Provider.objects.get(name="OpenAI")
    response = admin_client.post(
        f"/admin/routing/provider/{openai.pk}/change/",
        {
            "name": "OpenAI",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "sk-live-abc123",
            "enabled": "on",
            **management("models", 0, 0),
        },
    )
    assert response.status_code == 200
    assert "never the key itself" in response.content.decode()
    openai.refresh_from_db()
    assert openai.api_key_env == "OPENAI_API_KEY"


def test_a_provider_url_must_be_http(admin_client: Client) -> None:
    openai = Provider.objects.get(name="OpenAI")
    response = admin_client.post(
        f"/admin/routing/provider/{openai.pk}/change/",
        {
            "name": "OpenAI",
            "base_url": "ftp://api.openai.com/v1",
            "api_key_env": "OPENAI_API_KEY",
            "enabled": "on",
            **management("models", 0, 0),
        },
    )
    assert "must be an http:// or https:// URL" in response.content.decode()
    openai.refresh_from_db()
    assert openai.base_url == "https://api.openai.com/v1"


def test_a_new_price_applies_to_the_next_call_and_the_ledger_keeps_the_old_one(
    admin_client: Client,
) -> None:
    local = LLMModel.objects.get(name="smollm2-135m-instruct")
    old = LLMCall.objects.create(
        created_at=timezone.now(),
        tier=1,
        provider=local.provider.name,
        model=local.name,
        llm_model=local,
        prompt_tokens=1000,
        input_price_per_mtok=local.input_price_per_mtok,
        cost_usd=Decimal(0),
        outcome=LLMCall.Outcome.OK,
    )
    response = admin_client.post(
        f"/admin/routing/llmmodel/{local.pk}/change/",
        model_form(local, input_price_per_mtok="0.5000", output_price_per_mtok="1.2500"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    model = next(m for _, m in candidates(1) if m.pk == local.pk)
    assert model.input_price_per_mtok == Decimal("0.5")
    assert model.output_price_per_mtok == Decimal("1.25")
    old.refresh_from_db()
    assert old.input_price_per_mtok == Decimal(0) and old.cost_usd == Decimal(0)


def test_a_model_disabled_in_the_admin_leaves_the_fallback_chain(admin_client: Client) -> None:
    local = LLMModel.objects.get(name="smollm2-135m-instruct")
    assert local.pk in {m.pk for _, m in candidates(1)}
    response = admin_client.post(
        f"/admin/routing/llmmodel/{local.pk}/change/", model_form(local, enabled="")
    )
    assert response.status_code == 302
    assert local.pk not in {m.pk for _, m in candidates(1)}


def test_a_model_is_moved_to_another_tier_in_the_admin(admin_client: Client) -> None:
    local = LLMModel.objects.get(name="smollm2-135m-instruct")
    routes = list(local.routes.all())
    data = model_form(local)
    for i, route in enumerate(routes):
        if route.tier != 3:
            data[f"routes-{i}-DELETE"] = "on"
    response = admin_client.post(f"/admin/routing/llmmodel/{local.pk}/change/", data)
    assert response.status_code == 302
    assert set(TierRoute.objects.filter(model=local).values_list("tier", flat=True)) == {3}
    assert local.pk not in {m.pk for t, m in candidates(1) if t == 1}


def test_max_output_tokens_must_leave_room_for_the_prompt(admin_client: Client) -> None:
    local = LLMModel.objects.get(name="smollm2-135m-instruct")
    response = admin_client.post(
        f"/admin/routing/llmmodel/{local.pk}/change/",
        model_form(local, max_output_tokens=local.context_window),
    )
    assert "leave room for the prompt" in response.content.decode()
    local.refresh_from_db()
    assert local.max_output_tokens < local.context_window


def test_a_shop_adds_an_intent_with_phrasings_and_routing_uses_it(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "can you gift wrap my present with a card"
    assert classify(embed(question))[0].name != "gift_wrapping"

    data = {
        "name": "gift_wrapping",
        "description": "Gift wrapping and gift messages.",
        "tier": 1,
        **management("answers", 0, 0),
        **management("examples", 3, 0),
        "examples-0-text": "do you offer gift wrapping",
        "examples-1-text": "can you wrap it as a present",
        "examples-2-text": "can I add a gift card message",
    }
    response = admin_client.post("/admin/routing/intent/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Intent.objects.get(name="gift_wrapping").examples.count() == 3

    # Each process looks at the catalogue's version at most every RECHECK_SECONDS.
    monkeypatch.setattr(classifier, "RECHECK_SECONDS", 0.0)
    assert classify(embed(question))[0].name == "gift_wrapping"


def test_the_ledger_is_read_only(admin_client: Client) -> None:
    call = LLMCall.objects.create(created_at=timezone.now(), tier=0, outcome=LLMCall.Outcome.TIER0)
    listing = admin_client.get("/admin/routing/llmcall/")
    assert listing.status_code == 200 and "Tier 0 (no LLM)" in listing.content.decode()
    assert admin_client.get("/admin/routing/llmcall/add/").status_code == 403
    assert admin_client.post(f"/admin/routing/llmcall/{call.pk}/delete/", {"post": "yes"})
    assert LLMCall.objects.filter(pk=call.pk).exists()


def test_staff_without_permissions_do_not_see_the_gateway(client: Client) -> None:
    clerk = User.objects.create_user("clerk", password="clerk-password", is_staff=True)
    client.force_login(clerk)
    assert client.get("/admin/routing/provider/").status_code == 403
    assert client.get("/admin/routing/llmcall/").status_code == 403
