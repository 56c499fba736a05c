"""Project settings.

Production differs from development only by environment variables. With none set the
project runs on its embedded default: SQLite, the in-process channel layer, and Celery
tasks run in-process. ``DATABASE_URL`` switches to PostgreSQL and ``REDIS_URL`` to
channels-redis, a Redis cache and real Celery workers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.connection import parse_url

from support_bot.settings.env import (
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("SUPPORT_BOT_VAR_DIR") or BASE_DIR / "var")

DATABASE_URL = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
EMBEDDED = DATABASE_URL is None and REDIS_URL is None

DEBUG = env_bool("DEBUG", default=False)

_secret = env_str("SECRET_KEY")
if _secret is None:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DATABASE_URL or REDIS_URL is set "
            "(the embedded default uses a development key)."
        )
    _secret = "embedded-default-not-for-production-" + "x" * 24
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Shop sites that embed the widget (e.g. "https://shop.example.com"); the bot's own hosts
# are always allowed.
WIDGET_ALLOWED_ORIGINS = env_list("WIDGET_ALLOWED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "orders",
    "routing",
    "support_bot",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "support_bot.urls"
ASGI_APPLICATION = "support_bot.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# var/ holds the embedded database, collected static files and local logs.
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)

if DATABASE_URL is None:
    DATABASES: dict[str, Any] = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Channels and the in-process task runner write from several threads.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # The test database is a file too: an in-memory one (shared cache) fails a
            # second thread's read or write at once ("table is locked") where the app's
            # file waits for the lock, so tests would not run the app's way.
            "TEST": {"NAME": VAR_DIR / "test.sqlite3"},
        }
    }
else:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DATABASE_PREPARED_STATEMENTS", True
    ):
        # Statements the app runs for every message (the same few dozen) are parsed and
        # planned by PostgreSQL once per connection, not once per call: about a quarter of
        # its CPU per message (docs/scaling.md). Needs the parameters bound by the server.
        # Off behind a pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21, or without max_prepared_statements).
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=2
        )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The in-process channel layer (embedded default) holds at most this many undelivered
# frames per widget. Deltas are coalesced (~20/s per reply), so 1,000 covers a
# half-minute stall of a slow client.
CHANNEL_CAPACITY = env_int("CHANNEL_CAPACITY", 1000, minimum=10)

if REDIS_URL is None:
    CHANNEL_LAYERS: dict[str, Any] = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_CAPACITY},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    # Redis pub/sub: a frame is one PUBLISH, delivered at once to the ASGI processes whose
    # widgets listen, instead of the list-per-channel layer's four round trips to send and
    # a blocking pop per process to receive (docs/scaling.md, sixth round: 85 -> 35 Redis
    # commands and 11.8 -> 9.8 ms of ASGI CPU per message). Pub/sub names are not scoped by Redis database number, so the
    # prefix carries it: two deploys (or a deploy and the test suite) on one Redis on
    # different databases never hear each other's frames.
    _redis_db = parse_url(REDIS_URL).get("db", 0)
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {"address": REDIS_URL, "socket_timeout": 10, "socket_connect_timeout": 5}
                ],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", f"chat.db{_redis_db}."),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }

# Celery: with no Redis the tasks run in-process (see support_bot.celery).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup (celery/fixups/django.py) closes a worker's database connections
# before and after every task unless this is set: a new PostgreSQL backend per reply.
# Set, it closes them only every this many tasks; in between, support_bot.celery runs
# Django's close_old_connections around each task, as Django does around a request, so
# a broken connection or one older than DATABASE_CONN_MAX_AGE is still dropped (and a
# reused one is health-checked before its first query).
CELERY_DB_REUSE_MAX = 100

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish")]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
# WhiteNoise serves the widget and admin assets straight from the apps, so neither the
# embedded default nor a small deploy needs collectstatic or a separate web server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "/admin/login/"

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Shop data import: files above this size are refused before they are parsed.
SHOP_IMPORT_MAX_BYTES = env_int("SHOP_IMPORT_MAX_MB", 20, minimum=1) * 1024 * 1024

# Shared with the shop's backend, which signs its logged-in customer's id with it
# (support_bot.identity). The embedded default derives one so the demo works.
_shop_secret = env_str("SHOP_TOKEN_SECRET")
if _shop_secret is None:
    if not EMBEDDED:
        raise ImproperlyConfigured("SHOP_TOKEN_SECRET is required outside the embedded default.")
    _shop_secret = "embedded-shop-token-secret"
SHOP_TOKEN_SECRET: str = _shop_secret

# Providers, models and prices live in the database (routing); these bound every call.
LLM_MAX_TOKENS = env_int("LLM_MAX_TOKENS", 256, minimum=1)
LLM_CONNECT_TIMEOUT = env_int("LLM_CONNECT_TIMEOUT_S", 5, minimum=1)
LLM_READ_TIMEOUT = env_int("LLM_READ_TIMEOUT_S", 30, minimum=1)
LLM_TOTAL_TIMEOUT = env_int("LLM_TOTAL_TIMEOUT_S", 90, minimum=1)
# Celery's limits sit above the HTTP timeouts so a stuck call ends as a clean failure.
REPLY_SOFT_TIME_LIMIT = LLM_TOTAL_TIMEOUT + 15
REPLY_HARD_TIME_LIMIT = LLM_TOTAL_TIMEOUT + 30
# A reply whose worker wrote no heartbeat for this long was orphaned (the worker died);
# the redelivered task may take it over. Replies beat every 5 s while streaming.
REPLY_LEASE_SECONDS = env_int("REPLY_LEASE_SECONDS", 45, minimum=2)
# A queued reply whose task may have been lost (the broker restarted empty, or queueing
# failed) is sent to the queue again after this long, by a sweep every worker runs every
# REPLY_SWEEP_SECONDS (0: no sweep); a shopper who reconnects gets theirs sent again
# after REPLY_RESUME_SECONDS.
REPLY_REQUEUE_AFTER = timedelta(seconds=env_int("REPLY_REQUEUE_SECONDS", 30, minimum=1))
REPLY_RESUME_AFTER = timedelta(seconds=env_int("REPLY_RESUME_SECONDS", 5, minimum=0))
REPLY_SWEEP_SECONDS = env_int("REPLY_SWEEP_SECONDS", 10, minimum=0)
# With acks_late, Redis hands an unacknowledged task to another worker after this long:
# above the hard time limit, so a slow reply is never run twice at once.
# A worker that loses Redis keeps its running replies going (they retry on an outage).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
_visibility = env_int("CELERY_VISIBILITY_TIMEOUT", REPLY_HARD_TIME_LIMIT + 60, minimum=5)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility,
    # Workers look for tasks a dead worker left unacknowledged every tenth of that (kombu
    # would otherwise scan only every ~100 s, whatever the visibility timeout).
    "unacked_restore_interval": max(1, _visibility // 10),
    "unacked_restore_throttle": 1,
}

# The widget's websocket: frame size and per-connection message rate.
CHAT_MAX_FRAME_BYTES = 8 * 1024
# A reply that streamed and then went quiet this long is looked up in the database: a
# frame the channel layer lost (channels-redis can drop one when another websocket of the
# same server disconnects mid-read) must not leave the shopper with half an answer.
CHAT_REPLY_STALL_SECONDS = env_int("CHAT_REPLY_STALL_SECONDS", 10, minimum=1)
CHAT_MAX_TEXT_CHARS = 4000
CHAT_RATE_BURST = env_int("CHAT_RATE_BURST", 5, minimum=1)
CHAT_RATE_PER_MINUTE = env_int("CHAT_RATE_PER_MINUTE", 20, minimum=1)
# Per client address, across connections and servers (support_bot.ratelimit).
CHAT_IP_CONNECTIONS_PER_MINUTE = env_int("CHAT_IP_CONNECTIONS_PER_MINUTE", 60, minimum=1)
CHAT_IP_MESSAGES_PER_MINUTE = env_int("CHAT_IP_MESSAGES_PER_MINUTE", 120, minimum=1)
VERIFY_MAX_FAILURES = 5
VERIFY_LOCK_MINUTES = 15

# The shop's name as shoppers see it, and its default currency.
SHOP_NAME = env_str("SHOP_NAME", "Demo Outfitters")
SHOP_CURRENCY = env_str("SHOP_CURRENCY", "USD")

DAILY_BUDGET_USD = env_decimal("DAILY_BUDGET_USD", Decimal("20.00"))
# The customer's orders in the prompt: the order the shopper names in full, then one-line
# summaries of the others, within this many tokens.
ORDER_CONTEXT_TOKENS = env_int("ORDER_CONTEXT_TOKENS", 300, minimum=50)
CONVERSATION_BUDGET_USD = env_decimal("CONVERSATION_BUDGET_USD", Decimal("0.50"))
# Refunds, cancellations or demands above this value go to a person.
ESCALATE_REFUND_ABOVE_USD = env_decimal("ESCALATE_REFUND_ABOVE_USD", Decimal("250"))

EMBEDDING_ONNX = env_bool("EMBEDDING_ONNX", default=True)  # 0: messages embedded with torch

# The answer cache (support_bot.cache): earlier complete bot answers, served again for
# the same question (exact), for a question confidently of the same answer-intent with
# the same entities (top intent score at least CACHE_INTENT_CONFIDENCE, ahead of the
# runner-up by CACHE_INTENT_MARGIN; tuned with bench/cache.py), or else for one of the
# same meaning, intent and entities (semantic, at or above CACHE_SIMILARITY).
# CACHE_REDIS_URL defaults to REDIS_URL; with neither, the cache lives in the process.
CACHE_ENABLED = env_bool("CACHE_ENABLED", default=True)
CACHE_REDIS_URL = env_url("CACHE_REDIS_URL", ("redis", "rediss", "unix")) or REDIS_URL
CACHE_TTL_SECONDS = env_int("CACHE_TTL_SECONDS", 86400, minimum=1)
CACHE_MAX_ENTRIES = env_int("CACHE_MAX_ENTRIES", 200_000, minimum=1)
CACHE_SIMILARITY = env_decimal("CACHE_SIMILARITY", Decimal("0.93"))
CACHE_INTENT_CONFIDENCE = env_decimal("CACHE_INTENT_CONFIDENCE", Decimal("0.50"))
CACHE_INTENT_MARGIN = env_decimal("CACHE_INTENT_MARGIN", Decimal("0.08"))
# How long a shopper waits for another worker's answer to the same question.
CACHE_WAIT_SECONDS = env_int("CACHE_WAIT_SECONDS", 20, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
