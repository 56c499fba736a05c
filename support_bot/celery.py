"""The Celery application.

With ``REDIS_URL`` set, tasks go through Redis to separate worker processes
(``celery -A support_bot worker``). Without it (the embedded default) they run
in-process, so a fresh checkout needs no broker.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")

app = Celery("support_bot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
