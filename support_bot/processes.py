"""The app's own server processes, started the same way by the dev server, the load
benchmark and the test suite: one uvicorn command line, one free-port pick and one
readiness check."""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def asgi_command(port: int, *, workers: int = 1, access_log: bool = True) -> list[str]:
    """uvicorn serving ``support_bot.asgi:application`` on 127.0.0.1:``port``."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "support_bot.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    if not access_log:
        command.append("--no-access-log")
    if workers > 1:
        command += ["--workers", str(workers)]
    return command


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, *, timeout: float = 60
) -> None:
    """Return once ``port`` accepts connections; raise if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start on port {port}") from None
            time.sleep(0.1)
