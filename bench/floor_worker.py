"""The topology's floor, for ``bench/load.py --floor``: imported into each Celery worker
(``celery worker --include floor_worker``), it turns a reply into the least a reply can
be on this topology. The worker claims the reply, reads it and the conversation, streams
the shopper's text to the provider, publishes the tokens and finishes the reply, as the
real path does. It skips everything that makes the answer good: the embedding, routing,
tier 0, the answer cache, the order context, the prompt, budgets, rate limits and the
ledger.

What the bench measures with it is what the ASGI server, the broker, Celery, the channel
layer, PostgreSQL and the HTTP client cost by themselves: the latency and CPU per message
that no work on this project's own code can take away.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future

import numpy as np

from routing.gateway import candidates
from routing.llm_client import ProviderClient, client_for
from support_bot.selectors import reply_job_get
from support_bot.services import replies


@functools.cache
def _provider() -> tuple[ProviderClient, str]:
    """The first tier-1 model, looked up once: the floor's statements are the claim, the
    job and the finish, not the model chain."""
    _, model = next(candidates(1))
    return client_for(model.provider.url, model.provider.api_key), model.name


def _floor_write(
    reply_id: int, text: str | None = None, vector: Future[np.ndarray] | None = None
) -> None:
    job = reply_job_get(reply_id=reply_id)
    client, model = _provider()
    stream = replies._Stream(job)
    messages = [{"role": "user", "content": job.history[-1].text}]
    with client.stream_chat(model=model, messages=messages, max_tokens=256) as chunks:
        for piece in chunks:
            stream.piece(piece)
    stream.flush()
    replies._finish(job, stream.coalescer.text)


replies._reply_write = _floor_write
replies.embed_soon = lambda text: None  # nothing reads the vector
