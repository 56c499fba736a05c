"""A topology of its own for the tests that break things: a private Redis server, Celery
worker processes and an ASGI server on it, and a shopper client that behaves like the
widget (keeps unacknowledged messages, reconnects, resumes the conversation).

The suite's shared worker never sees this Redis, so killing a worker or restarting
Redis here disturbs no other test.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from support_bot.processes import free_port, wait_for_port
from tests.conftest import (
    ROOT,
    _stop,
    asgi_start,
    topology_env,
    worker_start,
)

LOGS = ROOT / "var"


class RedisServer:
    """redis-server on a free port, with no persistence: a restart starts it empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process, "redis-server")

    def kill(self) -> None:
        """SIGKILL: queued tasks, groups and cache entries are gone with it."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


@dataclass
class Topology:
    redis: RedisServer
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ws_url: str = ""

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        """A Celery worker process; returns once it has said it is ready."""
        log_path = LOGS / f"test-private-{name}.log"
        process = worker_start(self.env, log_path, concurrency=4, hostname=f"{name}@%h")
        self.processes.append(process)
        _wait_for_log(log_path, b" ready.", process)
        return process

    def asgi(self) -> str:
        port = free_port()
        process = asgi_start(self.env, LOGS / "test-asgi-private.log", port)
        self.processes.append(process)
        self.ws_url = f"ws://127.0.0.1:{port}/ws/chat/"
        return self.ws_url


async def widget_connect(url: str) -> Any:
    """A websocket as the widget on the app's own page opens it (same origin)."""
    origin = url.replace("ws://", "http://").split("/ws/")[0]
    return await websockets.connect(url, origin=websockets.Origin(origin), open_timeout=5)


def _wait_for_log(path: Path, marker: bytes, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited; see {path}")
        if marker in path.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"no {marker!r} in {path} within 90 s")


@contextmanager
def private_topology(**extra: str) -> Iterator[Topology]:
    """A Redis of its own; workers and an ASGI server are started by the test."""
    redis = RedisServer()
    redis.start()
    env = topology_env(REDIS_URL=redis.url, **extra)
    topology = Topology(redis=redis, env=env)
    try:
        yield topology
    finally:
        for process in reversed(topology.processes):
            _stop(process)
        redis.stop()


class WidgetClient:
    """A shopper's widget over a real websocket, as docs/protocol.md describes it.

    Sends one message at a time and waits for its reply; when the connection drops it
    reconnects with the conversation token and sends the unacknowledged message again
    with the same client_id. A reply counts once, by message id, whether it arrives as a
    ``done`` frame or in the history of a ``welcome`` after a reconnect.
    """

    def __init__(self, url: str, results: Counter[str]) -> None:
        self.url = url
        self.results = results
        self.token: str | None = None
        self.state = "bot"
        self.ws: Any = None
        self.answered: dict[int, str] = {}  # bot message id -> text
        self.replies_to: dict[str, int] = {}  # client_id -> shopper message id
        self.done_frames: Counter[int] = Counter()
        self.log: list[str] = []  # what happened, for a failing test's message
        self.started = time.monotonic()

    def _note(self, event: str) -> None:
        self.log.append(f"{time.monotonic() - self.started:6.1f}s {event}")

    async def _connect(self, deadline: float) -> list[dict[str, Any]]:
        """Connect (retrying with backoff, like the widget) and return the history."""
        delay = 0.2
        while True:
            try:
                self.ws = await widget_connect(self.url)
                await self.ws.send(json.dumps({"type": "hello", "conversation": self.token}))
                while True:
                    frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
                    if frame["type"] == "welcome":
                        break
                self.token = frame["conversation"]
                self.state = frame["state"]
                return list(frame["messages"])
            except (OSError, TimeoutError, websockets.WebSocketException) as error:
                self._note(f"connect failed: {error!r}")
                self.results["reconnects"] += 1
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _from_history(self, messages: list[dict[str, Any]], client_id: str) -> bool:
        shopper_id = self.replies_to.get(client_id)
        for message in messages:
            if message["role"] == "bot" and message["status"] == "done":
                self.answered.setdefault(message["id"], message["text"])
        if shopper_id is None:
            return False
        # The reply to our message is the first bot message after it.
        after = [m for m in messages if m["id"] > shopper_id]
        return any(m["role"] == "bot" and m["status"] == "done" for m in after)

    async def ask(self, text: str, *, timeout: float = 90) -> str:
        """'done', 'escalated' (handed to a person), 'failed' or 'lost'."""
        client_id = str(uuid.uuid4())
        deadline = time.monotonic() + timeout
        self.results["sent"] += 1
        sent = False
        while time.monotonic() < deadline:
            try:
                if self.ws is None:
                    history = await self._connect(deadline)
                    self._note(f"welcome ({self.state}) with {len(history)} messages")
                    if self._from_history(history, client_id):
                        return "done"
                    if self.state in ("waiting", "agent"):
                        # Handed to a person while we were away (the notice is in the
                        # history): no bot reply will come here; start afresh.
                        await self._drop()
                        self.token = None
                        if client_id in self.replies_to:
                            return "escalated"
                        continue
                    sent = False
                if not sent:
                    await self.ws.send(
                        json.dumps({"type": "message", "text": text, "client_id": client_id})
                    )
                    sent = True
                frame = json.loads(await asyncio.wait_for(self.ws.recv(), 15))
            except (OSError, TimeoutError, websockets.WebSocketException) as error:
                self._note(f"dropped: {error!r}")
                await self._drop()
                continue
            kind = frame["type"]
            self._note(f"{kind} {frame.get('message_id', '')} {frame.get('code', '')}")
            if kind == "ack" and frame.get("client_id") == client_id:
                self.replies_to[client_id] = frame["message_id"]
            elif kind == "done":
                self.done_frames[frame["message_id"]] += 1
                self.answered.setdefault(frame["message_id"], frame["text"])
                if frame["message_id"] > self.replies_to.get(client_id, frame["message_id"]):
                    return "done"  # the reply to ours (replies come after their message)
            elif kind == "message" and frame.get("role") == "system":
                # Handed to a person: like a shopper who then starts afresh, the next
                # question goes to a new conversation.
                await self._drop()
                self.token = None
                return "escalated"
            elif kind == "error" and frame.get("code") == "reply_failed":
                return "failed"
        self._note(f"lost {text!r}")
        return "lost"

    async def _drop(self) -> None:
        if self.ws is not None:
            with suppress(Exception):
                await self.ws.close()
        self.ws = None

    async def close(self) -> None:
        await self._drop()
