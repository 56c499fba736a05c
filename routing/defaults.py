"""The default provider registry, installed by a data migration and by
``python manage.py routing_defaults``. Prices are USD per million tokens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

LOCAL = "Local (llama.cpp)"

PROVIDERS: list[dict[str, Any]] = [
    {
        "name": "OpenAI",
        "base_url": "https://api.openai.com/v1",
        "api_key_env": "OPENAI_API_KEY",
        "requests_per_minute": 500,
        "tokens_per_minute": 200_000,
    },
    {
        "name": "Anthropic",
        "base_url": "https://api.anthropic.com/v1",
        "api_key_env": "ANTHROPIC_API_KEY",
        "requests_per_minute": 50,
        "tokens_per_minute": 40_000,
    },
    {
        "name": "Google Gemini",
        "base_url": "https://generativelanguage.googleapis.com/v1beta/openai",
        "api_key_env": "GEMINI_API_KEY",
        "requests_per_minute": 1000,
        "tokens_per_minute": 1_000_000,
    },
    {
        "name": "DeepSeek",
        "base_url": "https://api.deepseek.com/v1",
        "api_key_env": "DEEPSEEK_API_KEY",
        "requests_per_minute": 600,
        "tokens_per_minute": 1_000_000,
    },
    {
        "name": "HolySheep",
        "base_url": "https://api.holysheep.ai/v1",
        "api_key_env": "HOLYSHEEP_API_KEY",
        "requests_per_minute": 300,
        "tokens_per_minute": 500_000,
    },
    {
        "name": LOCAL,
        "base_url": "http://127.0.0.1:8001/v1",
        "base_url_env": "LOCAL_MODEL_URL",
        "api_key_env": "",
    },
]

# (provider, model id, label, input, output, context window, max output, {tier: priority})
MODELS: list[tuple[str, str, str, str, str, int, int, dict[int, int]]] = [
    ("OpenAI", "gpt-4.1", "GPT-4.1", "2.00", "8.00", 1_047_576, 1024, {3: 1}),
    ("Anthropic", "claude-sonnet-4-5", "Claude Sonnet 4.5", "3.00", "15.00", 200_000, 1024, {3: 2}),
    (
        "Google Gemini",
        "gemini-2.5-flash",
        "Gemini 2.5 Flash",
        "0.35",
        "2.50",
        1_048_576,
        1024,
        {2: 1},
    ),
    ("DeepSeek", "deepseek-chat", "DeepSeek V3.2", "0.27", "0.42", 128_000, 800, {1: 2, 2: 2}),
    # The cheapest usable model goes first in tier 1.
    ("HolySheep", "deepseek-v3.2", "HolySheep DeepSeek V3.2", "0.25", "0.38", 128_000, 800, {1: 1}),
    # With no keys configured, the local model is the only one usable, so it serves every tier.
    (
        LOCAL,
        "smollm2-135m-instruct",
        "SmolLM2-135M (local)",
        "0",
        "0",
        4096,
        256,
        {1: 9, 2: 9, 3: 9},
    ),
]


def install_defaults(provider_model: Any, llm_model: Any, tier_route: Any) -> None:
    """Create the defaults that are missing; never overwrite what a shop has edited."""
    providers = {}
    for entry in PROVIDERS:
        providers[entry["name"]], _ = provider_model.objects.get_or_create(
            name=entry["name"], defaults={k: v for k, v in entry.items() if k != "name"}
        )
    for provider, name, label, price_in, price_out, context, max_out, tiers in MODELS:
        model, created = llm_model.objects.get_or_create(
            provider=providers[provider],
            name=name,
            defaults={
                "label": label,
                "input_price_per_mtok": Decimal(price_in),
                "output_price_per_mtok": Decimal(price_out),
                "context_window": context,
                "max_output_tokens": max_out,
            },
        )
        if created:
            for tier, priority in tiers.items():
                tier_route.objects.get_or_create(
                    tier=tier, model=model, defaults={"priority": priority}
                )
