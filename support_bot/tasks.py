"""Celery tasks: thin wrappers that call services by id."""

from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import sync_to_async
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, close_old_connections
from django.db import OperationalError as DbOperationalError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from support_bot.services.messages import (
    REPLY_LEASE,
    replies_stalled_take,
    reply_in_progress,
    reply_release,
)
from support_bot.services.replies import reply_abandon, reply_generate

logger = logging.getLogger(__name__)

# Losing Redis (broker, channel layer, cache) or the database for a moment.
OUTAGES = (RedisError, KombuOperationalError, DbOperationalError, InterfaceError)
OUTAGE_RETRY_SECONDS = 2


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.REPLY_SOFT_TIME_LIMIT,
    time_limit=settings.REPLY_HARD_TIME_LIMIT,
    ignore_result=True,
    max_retries=5,
)
def generate_reply(self: Task, reply_id: int, text: str | None = None) -> None:
    # ``text``: the shopper message, when the sender had it (see ``reply_generate``); a
    # task queued by an older sender, or by a sweep, carries none.
    if text is not None and not isinstance(text, str):
        text = None
    try:
        claimed = reply_generate(reply_id=reply_id, text=text)
    except SoftTimeLimitExceeded:
        reply_abandon(reply_id=reply_id, reason="bot_timed_out")
        return
    except OUTAGES as error:
        # Redis or the database went away mid-reply. Hand the reply back and try again
        # shortly; if even that fails, the sweep finds it queued.
        logger.warning("reply %s interrupted by an outage (%r); retrying", reply_id, error)
        close_old_connections()
        reply_release(reply_id=reply_id)
        raise self.retry(countdown=OUTAGE_RETRY_SECONDS, exc=error) from None
    # Asked only when the claim failed (rare), not before every reply: delivered again
    # while another worker is still writing it (the broker's visibility timeout ran out,
    # or a sweep found it late), look again once its claim would have lapsed, in case
    # that worker dies. A finished reply is left alone.
    if not claimed and reply_in_progress(reply_id=reply_id):
        raise self.retry(countdown=REPLY_LEASE.total_seconds())


def _send(reply_id: int, text: str | None = None) -> bool:
    kwargs: dict[str, object] = {"reply_id": reply_id}
    if text:
        kwargs["text"] = text
    try:
        generate_reply.apply_async(kwargs=kwargs)
    except Exception:
        # The broker is down. The reply stays queued in the database, where the sweep
        # (and the shopper's next hello) finds it and sends it again.
        logger.warning("could not queue reply %s; the sweep will retry it", reply_id)
        return False
    return True


async def reply_enqueue(reply_id: int, text: str | None = None) -> None:
    """Queue the reply task (call it once the shopper message is committed); ``text``,
    the shopper message it answers, lets the worker start embedding it at once.

    On the embedded default there is no worker: the reply runs in a thread of the ASGI
    server, so the consumer keeps serving frames while it streams.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        loop = asyncio.get_running_loop()
        run = sync_to_async(generate_reply.apply, thread_sensitive=False)
        task = loop.create_task(run(kwargs={"reply_id": reply_id, "text": text}))
        _background.add(task)
        task.add_done_callback(_background.discard)
    else:
        await sync_to_async(_send, thread_sensitive=False)(reply_id, text)


async def replies_resume(conversation_id: int) -> None:
    """A widget (re)connected: send again the conversation's replies nobody is writing.

    After a broker restart its queue is empty; the shopper who comes back should not have
    to wait for the next sweep.
    """
    stalled = await sync_to_async(replies_stalled_take)(
        waited=settings.REPLY_RESUME_AFTER, conversation_id=conversation_id
    )
    for reply_id in stalled:
        await reply_enqueue(reply_id)


def replies_sweep() -> int:
    """Send again every reply nobody is writing; the number sent."""
    stalled = replies_stalled_take(waited=settings.REPLY_REQUEUE_AFTER)
    return sum(_send(reply_id) for reply_id in stalled)


class Sweeper(threading.Thread):
    """Runs in each worker process: revives replies whose task was lost."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="reply-sweeper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                sent = replies_sweep()
                if sent:
                    logger.info("sent %s stalled replies again", sent)
            except Exception:
                logger.exception("the reply sweep failed; trying again later")
            finally:
                close_old_connections()


# Keep references so the in-process replies are not garbage-collected mid-stream.
_background: set[asyncio.Task[object]] = set()
