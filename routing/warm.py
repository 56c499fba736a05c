"""Loading the heavy parts before the first shopper message needs them."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger(__name__)


def warm_up() -> None:
    from routing.classifier import classify
    from routing.embeddings import embed

    try:
        classify(embed("where is my order"))
    except Exception:  # a cold start is slower, not broken
        logger.exception("warm-up failed; the first message will load the model")


def warm_up_in_background() -> None:
    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()
