"""Loading the heavy parts before the first shopper message needs them."""

from __future__ import annotations

import gc
import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)


def warm_up() -> None:
    from orders.tokens import count_tokens
    from routing.classifier import classify
    from routing.embeddings import embed, encoder_load

    try:
        encoder_load()  # a cached vector below would skip the ONNX export and load
        vector = embed("where is my order")
        classify(vector)
        count_tokens("where is my order")  # the gateway's tokenizer
    except Exception:  # a cold start is slower, not broken
        logger.exception("warm-up failed; the first message will load the model")
        return
    _warm_policies(vector)


def _warm_policies(vector: np.ndarray) -> None:
    """Embed the current version of every policy's paragraphs (retrieval), which the
    first LLM reply of the process would otherwise wait for."""
    from routing.policies import policy_passages
    from routing.products import products_warm

    try:
        policy_passages(vector)
        products_warm()
    except Exception as error:  # e.g. not migrated yet: the first reply embeds them
        logger.warning(
            "policies and products not embedded in advance (%s); the first reply will", error
        )


def freeze_loaded() -> None:
    """Take everything loaded so far out of the garbage collector's sight.

    What a server or worker has loaded by now (Django, the embedding model, the intent
    index, the tokenizer) lives as long as the process, yet every full collection walks
    all of it: ~520,000 objects in a warmed worker, a ~300 ms pause of every thread, which
    at the issue's load came about every 90 s. Frozen, they are never walked again, and a full
    collection looks only at what replies allocated since (~30 ms). Garbage made before
    the call is collected first, so none of it is kept for good; what is frozen and later
    dropped is still freed by its reference count, only cycles among it would stay.
    """
    gc.collect()
    gc.freeze()


def _warm_up_and_disconnect() -> None:
    from django.db import connection

    try:
        warm_up()
        freeze_loaded()
    finally:
        connection.close()  # this thread's connection: the thread ends here


def warm_up_in_background() -> None:
    threading.Thread(target=_warm_up_and_disconnect, name="warm-up", daemon=True).start()
