"""The message embedding: ONNX Runtime and torch give the same vectors, and torch answers
when ONNX can't."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from django.test import override_settings

from routing import embeddings
from routing.embeddings import embed_many

pytestmark = [pytest.mark.embedded]

_REVIEW = "The boots looked great online but the left sole came off after two days of walking."
MESSAGES = [
    "where is my order 4410287?? it was supposed to arrive yesterday",
    "Wo ist meine Bestellung? Ich warte seit zwei Wochen auf das Paket und niemand antwortet.",
    "i want a refund for the jacket, it came with a hole in the sleeve",
    "can u tell me ur return policy for sale items",
    # 600 words: cut at the model's 256 tokens, the same way on both paths.
    " ".join((_REVIEW.split() * 40)[:600]),
]


def _fresh_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process that has not loaded ONNX yet (the loaded model is kept)."""
    monkeypatch.setattr(embeddings, "_session", None)
    monkeypatch.setattr(embeddings, "_session_tried", False)


@pytest.fixture(scope="module")
def onnx_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A var dir of the module's own: one export, which the module's tests share."""
    var_dir = tmp_path_factory.mktemp("var")
    with override_settings(VAR_DIR=var_dir), pytest.MonkeyPatch.context() as patch:
        _fresh_session(patch)
        yield var_dir


def test_onnx_gives_the_vectors_of_torch_and_of_embed_many(
    onnx_var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = embeddings._load()
    assert model.max_seq_length == 256
    assert len(model.tokenizer(MESSAGES[-1])["input_ids"]) > 256  # the long one is cut
    torch_vectors = np.stack([embeddings._torch_embed(model, text) for text in MESSAGES])
    assert embeddings._onnx_load(model) is not None
    # The export left the shared torch model in eval mode (no dropout): the same vector.
    assert np.array_equal(embeddings._torch_embed(model, MESSAGES[0]), torch_vectors[0])
    # Messages go through ONNX once it is loaded: torch is not asked.
    monkeypatch.setattr(embeddings, "_torch_embed", _unreachable)
    onnx_vectors = np.stack([embeddings._embed_one(text) for text in MESSAGES])

    assert np.abs(onnx_vectors - torch_vectors).max() < 1e-5
    assert np.abs(onnx_vectors - embed_many(MESSAGES)).max() < 1e-5
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)


def test_the_export_is_made_once_per_machine(
    onnx_var_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = embeddings._load()
    assert embeddings._onnx_load(model) is not None
    (exported,) = (onnx_var_dir / "onnx").iterdir()  # no temporary file left beside it
    assert exported.suffix == ".onnx"
    written = exported.stat()

    # Another process (here: this one, loading afresh) opens the same file.
    _fresh_session(monkeypatch)
    monkeypatch.setattr(embeddings, "_onnx_export", _unreachable)
    assert embeddings._onnx_load(model) is not None
    assert list((onnx_var_dir / "onnx").iterdir()) == [exported]
    assert exported.stat().st_mtime_ns == written.st_mtime_ns


def test_a_new_export_removes_the_ones_it_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Left by an older torch or model (~90 MB each), and by an export killed midway.
    folder = tmp_path / "onnx"
    folder.mkdir()
    old = folder / "all-minilm-l6-v2-0123456789ab.onnx"
    old.write_bytes(b"an older graph")
    killed = folder / "all-minilm-l6-v2-0123456789ab.onnxk1ll3d.tmp"
    killed.write_bytes(b"half a graph")
    os.utime(killed, (time.time() - 7200, time.time() - 7200))
    running = folder / "all-minilm-l6-v2-0123456789ab.onnxrunn1ng.tmp"
    running.write_bytes(b"being written by another worker")
    unrelated = folder / "notes.txt"
    unrelated.write_text("not ours")
    _fresh_session(monkeypatch)

    with override_settings(VAR_DIR=tmp_path):
        assert embeddings._onnx_load(embeddings._load()) is not None
        current = embeddings._onnx_path()

    assert sorted(folder.iterdir()) == sorted([current, running, unrelated])


@pytest.mark.parametrize("breakage", ["no onnxruntime", "export fails", "unreadable model"])
def test_torch_answers_when_onnx_cannot(
    breakage: str,
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.VAR_DIR = tmp_path
    _fresh_session(monkeypatch)
    if breakage == "no onnxruntime":
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import raises ImportError
    elif breakage == "export fails":
        monkeypatch.setattr(torch.onnx, "export", _unreachable)
    else:
        path = embeddings._onnx_path()
        path.parent.mkdir(parents=True)
        path.write_bytes(b"half a model")

    with caplog.at_level(logging.WARNING, logger="routing.embeddings"):
        vectors = np.stack([embeddings._embed_one(text) for text in MESSAGES[:2]])

    assert embeddings._session is None
    assert len([r for r in caplog.records if r.name == "routing.embeddings"]) == 1
    assert np.abs(vectors - embed_many(MESSAGES[:2])).max() < 1e-5
    if breakage == "export fails":
        assert list((tmp_path / "onnx").iterdir()) == []  # the temporary file is gone


def test_the_setting_keeps_messages_on_torch(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path
    settings.EMBEDDING_ONNX = False
    _fresh_session(monkeypatch)
    monkeypatch.setattr(embeddings, "_onnx_open", _unreachable)
    vector = embeddings._embed_one(MESSAGES[0])
    assert np.abs(vector - embed_many(MESSAGES[:1])[0]).max() < 1e-5
    assert not (tmp_path / "onnx").exists()


def _unreachable(*args: object, **kwargs: object) -> Any:
    raise AssertionError("not expected to be called")


def test_the_math_libraries_run_one_thread_per_process() -> None:
    # A second OpenBLAS thread spins between products: under load it took ~40 % of a
    # worker's CPU (bench/load.py), for products too small to gain from it.
    from threadpoolctl import threadpool_info

    embed_many(["where is my order"])  # numpy's BLAS and torch's OpenMP are loaded
    ours = {
        pool["filepath"]: pool["num_threads"]
        for pool in threadpool_info()
        if "/numpy" in pool["filepath"] or "/torch/" in pool["filepath"]
    }
    assert len(ours) == 2, ours
    assert set(ours.values()) == {1}, ours
