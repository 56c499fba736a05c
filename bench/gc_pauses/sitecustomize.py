"""Log every full garbage collection of a process (``bench/load.py --gc-pauses``).

Put on ``PYTHONPATH`` of the server and workers, this file is imported at start-up by
every Python process (``site`` imports ``sitecustomize``). Each full (generation 2)
collection stops every thread of its process; one line per collection goes to
``$BENCH_GC_LOG_DIR/<pid>``: wall time, pause in milliseconds, process kind.
"""

from __future__ import annotations

import gc
import os
import sys
import time

_DIR = os.environ.get("BENCH_GC_LOG_DIR")
# sys.argv is not set yet when site imports this file ("-m celery" reads as ["-m"]):
# the interpreter's own command line is.
_COMMAND = " ".join(sys.orig_argv)
_KIND = "workers" if "celery" in _COMMAND else "asgi" if "asgi" in _COMMAND else "other"
_started = [0.0]


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    pause_ms = (time.perf_counter() - _started[0]) * 1000
    with open(os.path.join(_DIR or ".", str(os.getpid())), "a") as log:
        log.write(f"{time.time():.3f} {pause_ms:.1f} {_KIND}\n")


if _DIR:
    gc.callbacks.append(_on_collection)
