"""The Celery application.

With ``REDIS_URL`` set, tasks go through Redis to separate worker processes
(``celery -A support_bot worker``). Without it (the embedded default) they run
in-process, so a fresh checkout needs no broker.
"""

from __future__ import annotations

import os

from celery import Celery, Task, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")

app = Celery("support_bot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _drop_unusable_connections(task: Task | None = None, **kwargs: object) -> None:
    # With CELERY_DB_REUSE_MAX the fixup keeps a worker thread's connections between
    # tasks: drop the ones that broke or outlived DATABASE_CONN_MAX_AGE, as Django does
    # around each request. Eager tasks run inside a request or a test: leave them be.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_ready.connect
def _warm_up(**kwargs: object) -> None:
    # Load the embedding model, the intent index and the policy passages' vectors before
    # the first shopper waits on them.
    from django.db import connection

    from routing.warm import freeze_loaded, warm_up

    try:
        warm_up()
        freeze_loaded()
    finally:
        # The warm-up read the policies; this thread runs no task, so it keeps no
        # connection open.
        connection.close()


@signals.worker_ready.connect
def _start_sweeper(**kwargs: object) -> None:
    # Replies whose task was lost (a broker restart, a failed send) are sent again.
    from django.conf import settings

    from support_bot.tasks import Sweeper

    if settings.REPLY_SWEEP_SECONDS:
        Sweeper(settings.REPLY_SWEEP_SECONDS).start()
