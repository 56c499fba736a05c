from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client

from tests.conftest import topology_env

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
    return run_python(code, clean)


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with exactly this environment."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
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
            settings.CHANNEL_LAYERS["default"]["BACKEND"]
            == "channels_redis.pubsub.RedisPubSubChannelLayer"
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


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the Redis channel layer")
async def test_deploys_on_other_redis_databases_do_not_hear_each_others_frames() -> None:
    """Redis pub/sub ignores database numbers: the channel layer's prefix must not."""
    from channels.layers import get_channel_layer
    from channels_redis.pubsub import RedisPubSubChannelLayer
    from redis.connection import parse_url

    ours = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    other_db = (parse_url(os.environ["REDIS_URL"]).get("db", 0) + 1) % 16
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{other_db}"
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'])"
    )
    env = {**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "support_bot.settings"}
    env.pop("CHANNEL_LAYER_PREFIX", None)
    other_prefix = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other_prefix and other_prefix != ours["prefix"]

    layer = get_channel_layer()
    other = RedisPubSubChannelLayer(hosts=[url], prefix=other_prefix)
    mine, theirs = await layer.new_channel(), await other.new_channel()
    await layer.group_add("conversation-1", mine)
    await other.group_add("conversation-1", theirs)
    try:
        await other.group_send("conversation-1", {"type": "chat.frame", "frame": {"n": 1}})
        assert (await asyncio.wait_for(other.receive(theirs), 5))["frame"] == {"n": 1}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(mine), 0.5)
    finally:
        await layer.group_discard("conversation-1", mine)
        await other.flush()


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


PREPARED = (
    "import django; django.setup()\n"
    "from django.db import connection\n"
    "from support_bot.models import Message\n"
    "for _ in range(3): list(Message.objects.filter(pk=0))\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SELECT statement FROM pg_prepared_statements')\n"
    "    print(sum('support_bot_message' in row[0] for row in cursor.fetchall()))\n"
)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="PostgreSQL's prepared statements")
@pytest.mark.parametrize(("setting", "prepared"), [(None, 1), ("0", 0)])
def test_postgresql_prepares_repeated_statements_unless_told_not_to(
    setting: str | None, prepared: int, db: None
) -> None:
    """On by default (PostgreSQL parses and plans a repeated statement once per
    connection); off for a pooler that cannot keep prepared statements."""
    # The test database, whose tables exist whatever state DATABASE_URL's is in.
    env = {k: v for k, v in topology_env().items() if k != "DATABASE_PREPARED_STATEMENTS"}
    if setting is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = setting
    done = run_python(PREPARED, env)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) == prepared
