"""Log the garbage collections of a process (``bench/load.py --gc-pauses``).

Put on ``PYTHONPATH`` of the server and workers, this file is imported at start-up by
every Python process (``site`` imports ``sitecustomize``). A collection stops every
thread of its process. Lines go to ``$BENCH_GC_LOG_DIR/<pid>``: wall time, generation,
collections, their pauses together and the longest in milliseconds, process kind. A full
(generation 2) collection gets a line of its own; the young ones, thousands a minute, are
summed and written at most once a second. A pause is timed from this hook's "start" call
to its "stop" call, so in a busy process it can include a wait for the GIL between them.
"""

from __future__ import annotations

import gc
import os
import sys
import time

_DIR = os.environ.get("BENCH_GC_LOG_DIR", "")
# sys.argv is not set yet when site imports this file ("-m celery" reads as ["-m"]):
# the interpreter's own command line is.
_COMMAND = " ".join(sys.orig_argv)
_KIND = "workers" if "celery" in _COMMAND else "asgi" if "asgi" in _COMMAND else "other"

_started = [0.0]
_flushed = [time.time()]
# generation -> [collections, total ms, longest ms] since the last flush
_young: dict[int, list[float]] = {0: [0, 0.0, 0.0], 1: [0, 0.0, 0.0]}


def _write(lines: list[str]) -> None:
    with open(os.path.join(_DIR, str(os.getpid())), "a") as log:
        log.writelines(lines)


def _on_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    pause_ms = (time.perf_counter() - _started[0]) * 1000
    generation = info["generation"]
    now = time.time()
    if generation == 2:
        _write([f"{now:.3f} 2 1 {pause_ms:.3f} {pause_ms:.3f} {_KIND}\n"])
        return
    sums = _young[generation]
    sums[0] += 1
    sums[1] += pause_ms
    sums[2] = max(sums[2], pause_ms)
    if now - _flushed[0] >= 1.0:
        _flushed[0] = now
        _write(
            [
                f"{now:.3f} {gen} {int(c)} {total:.3f} {longest:.3f} {_KIND}\n"
                for gen, (c, total, longest) in _young.items()
                if c
            ]
        )
        for gen in _young:
            _young[gen] = [0, 0.0, 0.0]


if _DIR:
    gc.callbacks.append(_on_collection)
