"""Writing one bot reply: claim it, stream it from the provider to the widgets, store it."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from orders.context import order_facts_for_customer, render_orders
from routing.llm_client import ProviderError, client_for
from support_bot.prompt import prompt_build
from support_bot.selectors import ReplyJob, reply_job_get
from support_bot.services.messages import reply_claim, reply_fail, reply_finish, reply_heartbeat
from support_bot.streams import DeltaCoalescer, partial_save, publish

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
# A transient failure (timeout, 5xx, a dropped stream) gets this many more attempts.
TRANSIENT_RETRIES = 1
APOLOGY = "Sorry, I can't answer right now. Please try again in a moment."


class ReplyTakenOver(Exception):
    """The reply stopped being ours (another worker reclaimed it, or a person took over)."""


def reply_generate(*, reply_id: int) -> None:
    if not reply_claim(reply_id=reply_id):
        logger.info("reply %s already taken or finished", reply_id)
        return
    job = reply_job_get(reply_id=reply_id)
    orders_text = (
        render_orders(order_facts_for_customer(customer_id=job.customer_id))
        if job.customer_id is not None
        else None
    )
    messages = prompt_build(job=job, shop_name=settings.SHOP_NAME or "", orders_text=orders_text)
    publish(job.group, {"type": "typing", "role": "bot"})
    coalescer = DeltaCoalescer(reply_id)
    for attempt in range(TRANSIENT_RETRIES + 1):
        try:
            text = _stream(job, messages, coalescer)
        except ReplyTakenOver:
            return
        except ProviderError as error:
            logger.warning("reply %s attempt %s failed: %s", reply_id, attempt + 1, error)
            if error.transient and attempt < TRANSIENT_RETRIES:
                if coalescer.seq:
                    # Never a silently truncated answer: the widget clears and starts over.
                    publish(job.group, {"type": "reset", "message_id": reply_id, "reason": "retry"})
                    coalescer.reset()
                continue
            _fail(job, error)
            return
        if reply_finish(reply_id=reply_id, text=text):
            publish(
                job.group, {"type": "done", "message_id": reply_id, "role": "bot", "text": text}
            )
        return


def _stream(job: ReplyJob, messages: list[dict[str, str]], coalescer: DeltaCoalescer) -> str:
    client = client_for(
        str(settings.LLM_BASE_URL),
        settings.LLM_API_KEY,
        connect_timeout=settings.LLM_CONNECT_TIMEOUT,
        read_timeout=settings.LLM_READ_TIMEOUT,
        total_timeout=settings.LLM_TOTAL_TIMEOUT,
    )
    last_beat = time.monotonic()
    with client.stream_chat(
        model=settings.LLM_MODEL or "",
        messages=messages,
        max_tokens=settings.LLM_MAX_TOKENS,
    ) as stream:
        for piece in stream:
            frame = coalescer.add(piece)
            first = coalescer.seq == 1 and frame is not None
            if frame is not None:
                publish(job.group, frame)
                partial_save(job.reply_id, coalescer.seq, coalescer.text)
            if first or time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                if not reply_heartbeat(reply_id=job.reply_id, first_token=first):
                    raise ReplyTakenOver()
                last_beat = time.monotonic()
        frame = coalescer.flush()
        if frame is not None:
            publish(job.group, frame)
        return stream.completion.text.strip() or coalescer.text


def _fail(job: ReplyJob, error: ProviderError) -> None:
    if reply_fail(reply_id=job.reply_id, code=error.kind, text=APOLOGY):
        publish(
            job.group,
            {
                "type": "error",
                "code": "reply_failed",
                "message": APOLOGY,
                "message_id": job.reply_id,
            },
        )
