"""The message embedding's cost: torch against ONNX Runtime (routing/embeddings.py).

    python bench/embedding.py [--eval ../shared/eval] [--messages 200]

Embeds Bitext (dev) shopper messages one at a time, as a worker embeds a message, on both
paths in turn (one thread each, as in the workers), and prints the wall time per message
(p50/p95), the CPU per message, and the largest difference between the paths' vectors and
``embed_many``'s (what the catalogue and policies are embedded with). The ONNX model is
exported into the var dir on first use, as a worker would; later runs reuse it.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "support_bot.settings")
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()


def load(eval_dir: Path, count: int) -> list[str]:
    rows = [r["instruction"] for r in csv.DictReader((eval_dir / "bitext_dev.csv").open())]
    return rows[:: max(1, len(rows) // count)][:count]


def timed(embed: Callable[[str], np.ndarray], text: str) -> tuple[np.ndarray, float, float]:
    wall, cpu = time.perf_counter(), time.thread_time()
    vector = embed(text)
    return vector, time.perf_counter() - wall, time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    setup()
    from routing import embeddings

    texts = load(args.eval, args.messages)
    model = embeddings._load()
    started = time.perf_counter()
    existed = embeddings._onnx_path().exists()
    session = embeddings._onnx_load(model)
    if session is None:
        sys.exit("ONNX Runtime did not load (see the warning above)")
    print(
        f"ONNX model {'opened' if existed else 'exported and opened'} in "
        f"{time.perf_counter() - started:.1f}s: {embeddings._onnx_path()}"
    )
    paths: dict[str, Callable[[str], np.ndarray]] = {
        "torch": lambda text: embeddings._torch_embed(model, text),
        "onnx": lambda text: embeddings._onnx_embed(session, model, text),
    }
    for text in texts[:20]:  # first calls allocate
        for embed in paths.values():
            embed(text)

    vectors: dict[str, list[np.ndarray]] = {name: [] for name in paths}
    walls: dict[str, list[float]] = {name: [] for name in paths}
    cpus: dict[str, list[float]] = {name: [] for name in paths}
    for text in texts:  # alternating, so that noise from the shared cores hits both
        for name, embed in paths.items():
            vector, wall, cpu = timed(embed, text)
            vectors[name].append(vector)
            walls[name].append(wall * 1000)
            cpus[name].append(cpu * 1000)

    tokens = [len(model.tokenizer(text)["input_ids"]) for text in texts]
    print(f"{len(texts)} messages, {np.mean(tokens):.0f} tokens on average (max {max(tokens)})")
    print(f"{'path':<8}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}")
    for name in paths:
        p50, p95 = np.percentile(walls[name], [50, 95])
        print(f"{name:<8}{p50:>9.2f}{p95:>9.2f}{np.mean(cpus[name]):>9.2f}")
    batch = embeddings.embed_many(texts)
    onnx, torch = np.stack(vectors["onnx"]), np.stack(vectors["torch"])
    for label, a, b in (
        ("onnx - torch", onnx, torch),
        ("onnx - embed_many", onnx, batch),
        ("torch - embed_many", torch, batch),
    ):
        print(f"max |{label}|{'':<{19 - len(label)}}{np.abs(a - b).max():.1e}")


if __name__ == "__main__":
    main()
