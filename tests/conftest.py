from __future__ import annotations

import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from orders.models import Customer
from routing.fake_provider import FakeProviderServer
from support_bot.processes import asgi_command, free_port, wait_for_port
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory

SUPPORT_AGENTS = "Support agents"
ASGI_DB_APPLICATION = "support-bot-test-asgi"


@pytest.fixture
def customer(db: Any) -> Customer:
    customer = CustomerFactory.create(
        external_id="C-1", name="Alice Shopper", email="alice@example.com"
    )
    order = OrderFactory(customer=customer, number="100001")
    OrderLineFactory(order=order)
    return customer


@pytest.fixture
def other_customer(db: Any) -> Customer:
    other = CustomerFactory.create(external_id="C-2", name="Bob Other", email="bob@example.org")
    order = OrderFactory(customer=other, number="200002")
    OrderLineFactory(order=order, product_name="Rain Jacket")
    return other


@pytest.fixture
def agent(db: Any) -> User:
    group, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS)
    # An agent is in the support team's group, not staff: the admin is not theirs.
    user = User.objects.create_user("agent", "agent@example.com", "agent-password")
    user.groups.add(group)
    return user


# --- the real parts: fake provider, Celery worker, ASGI server -------------------------

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = bool(os.environ.get("REDIS_URL"))


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """A channel layer of each test's own.

    pytest-asyncio runs each test in a new event loop, and channels-redis keeps a receive
    lock bound to the loop that created it: a consumer still receiving when one test's
    loop ends left that lock to the next test, whose consumers then failed with "Lock is
    bound to a different event loop".
    """
    from channels.layers import channel_layers

    channel_layers.backends = {}
    yield
    channel_layers.backends = {}


@pytest.fixture(autouse=True)
def routing_defaults(request: pytest.FixtureRequest) -> None:
    """The provider registry, intent catalogue and canned replies that migrations install.

    Transactional tests flush every table afterwards, data migrations' rows included, so
    they are put back for each test that uses the database.
    """
    if "django_db" not in {mark.name for mark in request.node.iter_markers()}:
        return
    request.getfixturevalue("_django_db_helper")
    from routing.catalogue import install_catalogue
    from routing.defaults import install_defaults
    from routing.models import Intent, IntentExample, LLMModel, Provider, TierRoute

    install_defaults(Provider, LLMModel, TierRoute)
    install_catalogue(Intent, IntentExample)
    # A flush and reinstall changes the catalogue's rows; the classifier must not keep
    # serving what it read before (it re-checks only every 30 s).
    from routing.classifier import reset as classifier_reset
    from routing.products import reset as products_reset

    classifier_reset()
    products_reset()
    from django.apps import apps

    handoff = importlib.import_module("support_bot.migrations.0003_handoff_console")
    handoff.add_defaults(apps, None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, whose drop at the end must not fail because a
    thread of the suite (a consumer's database thread) still holds a session on it."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


@pytest.fixture(scope="session")
def warm_models(django_db_setup: Any, django_db_blocker: Any) -> None:
    """Load the embedding model and the intent vectors once for the whole session."""
    from routing.warm import warm_up

    with django_db_blocker.unblock():
        warm_up()


@pytest.fixture(scope="session")
def fake_provider_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(ttft_ms=20, tokens_per_s=400, reply_tokens=20) as server:
        yield server


@pytest.fixture
def fake_provider(
    fake_provider_server: FakeProviderServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeProviderServer]:
    """The fake OpenAI-compatible provider, fresh for each test, standing in for the local
    model (the only provider usable with no API keys, so it serves every tier)."""
    from routing.limits import reset_backend

    fake_provider_server.reset()
    monkeypatch.setenv("LOCAL_MODEL_URL", fake_provider_server.base_url)
    reset_backend()
    yield fake_provider_server
    fake_provider_server.reset()


def topology_env(**extra: str) -> dict[str, str]:
    """The environment for a worker or server process that shares the test database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="support_bot.settings",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_start(
    env: dict[str, str], log_path: Path, *, concurrency: int = 8, hostname: str | None = None
) -> subprocess.Popen[bytes]:
    """A Celery worker process (threads pool) logging to ``log_path``; not yet ready."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "support_bot",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if hostname:
        command += ["--hostname", hostname]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )


def asgi_start(env: dict[str, str], log_path: Path, port: int) -> subprocess.Popen[bytes]:
    """uvicorn serving the app on ``port``; returns once the port accepts connections."""
    process = subprocess.Popen(
        asgi_command(port), cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    wait_for_port(port, process, f"uvicorn (see {log_path})", timeout=30)
    return process


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: Any, django_db_blocker: Any, fake_provider_server: FakeProviderServer
) -> Iterator[subprocess.Popen[bytes] | None]:
    """A real Celery worker process on the real topology (None on the embedded default)."""
    if not TOPOLOGY:
        yield None
        return
    with django_db_blocker.unblock():
        # Fake providers answer in milliseconds: short timeouts keep "hang" faults short.
        env = topology_env(
            LOCAL_MODEL_URL=fake_provider_server.base_url,
            LLM_READ_TIMEOUT_S="2",
            LLM_TOTAL_TIMEOUT_S="30",
        )
    process = worker_start(env, ROOT / "var" / "test-worker.log")
    _wait_for_worker(process)
    yield process
    _stop(process)


def _wait_for_worker(process: subprocess.Popen[bytes]) -> None:
    from support_bot.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the Celery worker exited; see var/test-worker.log")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("the Celery worker did not answer within 60 s")


@pytest.fixture
def reply_workers(
    celery_worker_process: Any, fake_provider: FakeProviderServer, warm_models: None
) -> FakeProviderServer:
    """Whatever writes bot replies on this topology: in-process, or the worker process.

    Warm: in-process, the session's first reply would otherwise load the embedding model
    inside the test's reply timeout (seen to run out on a busy machine)."""
    return fake_provider


@pytest.fixture(scope="session")
def asgi_server(
    django_db_setup: Any, django_db_blocker: Any, celery_worker_process: Any
) -> Iterator[str]:
    """uvicorn serving the app on a free port, on the real topology: its ws:// base URL."""
    if not TOPOLOGY:
        pytest.skip("needs the real topology")
    port = free_port()
    with django_db_blocker.unblock():
        env = topology_env()
    # Named, so a test can cut exactly the server's database connections.
    env["DATABASE_URL"] += f"?application_name={ASGI_DB_APPLICATION}"
    env["DATABASE_CONN_MAX_AGE"] = "60"  # as deployed: connections outlive a request
    process = asgi_start(env, ROOT / "var" / "test-asgi.log", port)
    yield f"ws://127.0.0.1:{port}"
    _stop(process)


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium under Playwright (``playwright install`` cannot run here)."""
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its own event loop; Django's async-safety check would
    # otherwise refuse the ORM calls the tests make around it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
