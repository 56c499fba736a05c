"""Celery tasks: thin wrappers that call services by id."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from support_bot.services.replies import reply_abandon, reply_generate


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.REPLY_SOFT_TIME_LIMIT,
    time_limit=settings.REPLY_HARD_TIME_LIMIT,
    ignore_result=True,
)
def generate_reply(reply_id: int) -> None:
    try:
        reply_generate(reply_id=reply_id)
    except SoftTimeLimitExceeded:
        reply_abandon(reply_id=reply_id, reason="bot_timed_out")


async def reply_enqueue(reply_id: int) -> None:
    """Queue the reply task (call it once the shopper message is committed).

    On the embedded default there is no worker: the reply runs in a thread of the ASGI
    server, so the consumer keeps serving frames while it streams.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        loop = asyncio.get_running_loop()
        run = sync_to_async(generate_reply.apply, thread_sensitive=False)
        task = loop.create_task(run(kwargs={"reply_id": reply_id}))
        _background.add(task)
        task.add_done_callback(_background.discard)
    else:
        send = sync_to_async(generate_reply.apply_async, thread_sensitive=False)
        await send(kwargs={"reply_id": reply_id})


# Keep references so the in-process replies are not garbage-collected mid-stream.
_background: set[asyncio.Task[object]] = set()
