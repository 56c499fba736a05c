"""The Celery application.

With ``REDIS_URL`` set, tasks go through Redis to separate worker processes
(``celery -A support_bot worker``). Without it (the embedded default) they run
in-process, so a fresh checkout needs no broker.
"""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")

app = Celery("support_bot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_ready.connect
def _warm_up(**kwargs: object) -> None:
    # Load the embedding model and the intent index before the first shopper waits on it.
    from routing.warm import warm_up

    warm_up()


@signals.worker_ready.connect
def _start_sweeper(**kwargs: object) -> None:
    # Replies whose task was lost (a broker restart, a failed send) are sent again.
    from django.conf import settings

    from support_bot.tasks import Sweeper

    if settings.REPLY_SWEEP_SECONDS:
        Sweeper(settings.REPLY_SWEEP_SECONDS).start()
