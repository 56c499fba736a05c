from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly this environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="support_bot.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.embedded
@pytest.mark.django_db
def test_the_suite_runs_on_the_topology_it_was_given() -> None:
    if os.environ.get("DATABASE_URL"):
        assert connection.vendor == "postgresql"
        assert (
            settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
        )
        cache.set("topology-probe", "yes", 10)
        assert cache.get("topology-probe") == "yes"
        assert not settings.CELERY_TASK_ALWAYS_EAGER
    else:
        assert connection.vendor == "sqlite"
        assert (
            settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
        )
        assert settings.CELERY_TASK_ALWAYS_EAGER


@pytest.mark.embedded
@pytest.mark.django_db
def test_health_endpoint_reaches_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == connection.vendor


def test_no_environment_means_embedded_default_with_debug_off(tmp_path: Path) -> None:
    result = load_settings(SUPPORT_BOT_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "False"]


def test_real_topology_requires_a_secret_key() -> None:
    result = load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        (
            {"DATABASE_URL": "mysql://db/x", "SECRET_KEY": "k"},
            "DATABASE_URL must be a URL starting with",
        ),
        (
            {"REDIS_URL": "http://localhost", "SECRET_KEY": "k"},
            "REDIS_URL must be a URL starting with",
        ),
        ({"SHOP_IMPORT_MAX_MB": "lots"}, "SHOP_IMPORT_MAX_MB='lots' is not an integer"),
        ({"DAILY_BUDGET_USD": "-5"}, "DAILY_BUDGET_USD='-5' must be a non-negative number"),
    ],
)
def test_bad_settings_fail_loudly_naming_the_variable(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = load_settings(SUPPORT_BOT_VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert message in result.stderr
