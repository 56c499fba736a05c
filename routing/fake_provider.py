"""A fault-injecting, OpenAI-compatible fake provider for tests and benchmarks.

It answers ``/v1/chat/completions`` (streamed or not) with a deterministic echo reply at a
configurable speed, and on request misbehaves the ways real providers do: HTTP errors,
rate limits with ``Retry-After``, hanging, dropping the connection mid-stream, malformed
chunks, empty replies. Tests drive it through a small control API under ``/__fake__/``.

Run it with ``python -m routing.fake_provider --port 8011`` (uvicorn when installed, else
the small built-in HTTP/1.1 server below), or in-process with ``FakeProviderServer``.
It is a raw ASGI app on purpose: no framework, and no Django, so it starts in a blink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http
import itertools
import json
import logging
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import unquote

import httpx

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Event = dict[str, Any]
Receive = Callable[[], Awaitable[Event]]
Send = Callable[[Event], Awaitable[None]]

DEFAULT_MODEL = "fake-model"
ECHO_CHARS = 200
HANG_S = 600.0
FILLER_TEXT = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua"
)
FILLER = FILLER_TEXT.split()
# K for a scripted "disconnect"/"malformed" given without one.
DEFAULT_CUT = 3
# What a request gets when fail_rate picks it: the failures routing has to survive.
RANDOM_FAULTS = ("http_500", "http_429:1", "hang", "disconnect", "malformed", "empty")
_FAULT = re.compile(
    r"(?P<name>ok|hang|empty|disconnect|malformed|http_(?P<status>\d{3}))(:(?P<arg>\d+))?"
)


@dataclass
class FakeSettings:
    ttft_ms: float = 0.0
    tokens_per_s: float = 0.0  # 0 streams as fast as possible
    reply_tokens: int = 40
    usage: bool = True
    fail_rate: float = 0.0
    seed: int = 1
    # "last": echo the shopper's last message; "system": echo the whole system prompt, so
    # that everything the model was shown reaches the widget (leak tests read it there).
    echo: str = "last"


@dataclass(frozen=True)
class Fault:
    name: str  # ok, hang, empty, disconnect, malformed or http
    status: int | None = None
    arg: int | None = None

    @classmethod
    def parse(cls, spec: str) -> Fault:
        match = _FAULT.fullmatch(spec.strip())
        if match is None:
            raise ValueError(f"unknown fault {spec!r}")
        status, arg = match["status"], match["arg"]
        return cls(
            name="http" if status else match["name"],
            status=int(status) if status else None,
            arg=int(arg) if arg is not None else None,
        )


class _DropConnection(Exception):
    """Raised after the response started, so the server closes the socket mid-body."""


def reply_pieces(messages: object, count: int, echo: str = "last") -> list[str]:
    """The deterministic reply: an echo of the last user message, then filler words.

    Each piece is a word with its leading whitespace, so the pieces join to the text. The
    reply has exactly ``count`` pieces (at least one), cutting a long echo short. With
    ``echo="system"`` the reply is the whole system prompt, however long.
    """
    if echo == "system":
        return re.findall(r"\s*\S+", "Echo: " + _system_text(messages)) or ["Echo:"]
    pieces = re.findall(r"\s*\S+", "Echo: " + _last_user_text(messages)[:ECHO_CHARS])
    filler = (f" {FILLER[i % len(FILLER)]}" for i in itertools.count())
    while len(pieces) < count:
        pieces.append(next(filler))
    return pieces[: max(count, 1)]


def _system_text(messages: object) -> str:
    if not isinstance(messages, list):
        return ""
    return " ".join(
        _message_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "system"
    )


def _message_text(message: object) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # OpenAI's content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _last_user_text(messages: object) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _message_text(message)
    return ""


def _prompt_words(messages: object) -> int:
    if not isinstance(messages, list):
        return 0
    return sum(len(_message_text(message).split()) for message in messages)


async def _pause(disconnected: asyncio.Event, seconds: float) -> bool:
    """Sleeps, waking early if the client leaves; True when it left."""
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(disconnected.wait(), seconds)
    return disconnected.is_set()


async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    disconnected.set()


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return body
        body += event.get("body", b"")
        if not event.get("more_body"):
            return body


async def _send_json(
    send: Send, status: int, body: object, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _error_body(message: str, status: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": "fake_fault", "code": status}}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _setting_value(kind: str, value: object) -> Any:
    # JSON's true would pass as 1 and "0" as a truthy string; refuse both.
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind in ("int", "float") and isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if kind == "int" else float(value)
    if kind == "str" and value in ("last", "system"):
        return value
    raise TypeError(f"{value!r} is not a {kind}")


class FakeProvider:
    """The ASGI app. Its state lives on the event loop's thread, so it needs no locks."""

    def __init__(self, settings: FakeSettings | None = None) -> None:
        self.defaults = settings or FakeSettings()
        self._hanging: set[asyncio.Event] = set()
        self.reset()

    def reset(self) -> None:
        # Wake every hanging request, so none outlives the test that scripted it.
        for waiter in self._hanging:
            waiter.set()
        self.settings = replace(self.defaults)
        self.rng = random.Random(self.settings.seed)
        self.script: deque[Fault] = deque()
        self.requests = 0
        self.by_model: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.last_request: object = None
        self.last_authorization: str | None = None
        self.chunk_ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        route = (scope["method"], scope["path"].rstrip("/"))
        if route == ("POST", "/v1/chat/completions"):
            await self._chat(scope, receive, send)
        elif route == ("GET", "/v1/models"):
            await _send_json(send, 200, self._models())
        elif route == ("GET", "/__fake__/stats"):
            await _send_json(send, 200, self.stats())
        elif route[0] == "POST" and route[1].startswith("/__fake__/"):
            await self._control(route[1].removeprefix("/__fake__/"), receive, send)
        else:
            await _send_json(send, 404, _error_body(f"no route {route[0]} {route[1]}", 404))

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "by_model": dict(self.by_model),
            "by_fault": dict(self.by_fault),
            "last_request": self.last_request,
            "last_authorization": self.last_authorization,
        }

    def _models(self) -> dict[str, Any]:
        names = dict.fromkeys([DEFAULT_MODEL, *self.by_model])
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "owned_by": "fake"} for name in names],
        }

    async def _control(self, action: str, receive: Receive, send: Send) -> None:
        try:
            body = json.loads(await _read_body(receive) or b"{}")
            if not isinstance(body, dict):
                raise TypeError("the body must be a JSON object")
            if action == "config":
                self._configure(body)
            elif action == "script":
                if not isinstance(body["faults"], list):
                    raise TypeError("faults must be a list")
                # Parsed in full first, so a typo queues nothing rather than half a script.
                self.script.extend([Fault.parse(str(spec)) for spec in body["faults"]])
            elif action == "reset":
                self.reset()
            else:
                await _send_json(send, 404, _error_body(f"no control {action!r}", 404))
                return
        except (ValueError, KeyError, TypeError) as exc:
            await _send_json(send, 400, _error_body(f"bad {action} request: {exc}", 400))
            return
        await _send_json(send, 200, {"config": asdict(self.settings), "queued": len(self.script)})

    def _configure(self, body: dict[str, Any]) -> None:
        known = {field.name: field.type for field in fields(FakeSettings)}
        unknown = set(body) - set(known)
        if unknown:
            raise ValueError(f"unknown settings {sorted(unknown)}")
        changes = {name: _setting_value(str(known[name]), value) for name, value in body.items()}
        if not 0 <= changes.get("fail_rate", 0) <= 1:
            raise ValueError("fail_rate must be between 0 and 1")
        self.settings = replace(self.settings, **changes)
        if "seed" in changes:
            self.rng = random.Random(self.settings.seed)

    def _next_fault(self) -> Fault:
        if self.script:
            return self.script.popleft()
        if self.settings.fail_rate > 0 and self.rng.random() < self.settings.fail_rate:
            fault = Fault.parse(self.rng.choice(RANDOM_FAULTS))
            if fault.name in ("disconnect", "malformed"):
                fault = replace(fault, arg=self.rng.randrange(max(self.settings.reply_tokens, 1)))
            return fault
        return Fault("ok")

    async def _chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request = json.loads(await _read_body(receive))
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            await _send_json(send, 400, _error_body("body must be JSON with messages", 400))
            return
        model = str(request.get("model") or DEFAULT_MODEL)
        headers = dict(scope["headers"])
        self.requests += 1
        self.by_model[model] += 1
        self.last_request = request
        self.last_authorization = headers.get(b"authorization", b"").decode() or None
        fault = self._next_fault()
        self.by_fault[fault.name if fault.status is None else f"http_{fault.status}"] += 1

        disconnected = asyncio.Event()
        watcher = asyncio.create_task(_watch_disconnect(receive, disconnected))
        try:
            if fault.name == "http":
                await self._http_fault(send, fault, self.last_authorization)
            elif fault.name == "hang":
                await self._hang(send, disconnected)
            elif request.get("stream") is True:
                await self._stream(send, request, model, fault, disconnected)
            else:
                await self._complete(send, request, model, fault, disconnected)
        finally:
            # Awaited, not just cancelled, so no receive() is still pending when the
            # server moves on to the connection's next request.
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _hang(self, send: Send, disconnected: asyncio.Event) -> None:
        self._hanging.add(disconnected)
        try:
            await _pause(disconnected, HANG_S)
        finally:
            self._hanging.discard(disconnected)
        # Dropped by the server if the client has left; an answer if reset() woke us.
        await _send_json(send, 504, _error_body("fake hang ended", 504))

    async def _http_fault(self, send: Send, fault: Fault, authorization: str | None) -> None:
        status = fault.status or 500
        headers = [(b"retry-after", str(fault.arg).encode())] if fault.arg is not None else []
        message = f"fake fault: HTTP {status}"
        if status == 401:
            # Like OpenAI, echo the rejected key, so clients are tested on keeping it out
            # of their logs.
            key = (authorization or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}"
        await _send_json(send, status, _error_body(message, status), headers)

    def _plan(self, request: dict[str, Any], fault: Fault) -> tuple[list[str], str]:
        if fault.name == "empty":
            return [], "stop"
        pieces = reply_pieces(request["messages"], self.settings.reply_tokens, self.settings.echo)
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(pieces):
            return pieces[:limit], "length"
        return pieces, "stop"

    def _usage(self, request: dict[str, Any], completion_tokens: int) -> dict[str, Any]:
        prompt_tokens = _prompt_words(request["messages"])
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        }

    async def _stream(
        self,
        send: Send,
        request: dict[str, Any],
        model: str,
        fault: Fault,
        disconnected: asyncio.Event,
    ) -> None:
        pieces, finish_reason = self._plan(request, fault)
        options = request.get("stream_options")
        with_usage = (
            self.settings.usage and isinstance(options, dict) and options.get("include_usage")
        )
        chunk_id = f"chatcmpl-fake-{next(self.chunk_ids)}"

        async def event(data: str) -> None:
            body = f"data: {data}\n\n".encode()
            await send({"type": "http.response.body", "body": body, "more_body": True})

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
            body = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": choices,
                **extra,
            }
            if with_usage:
                body.setdefault("usage", None)  # as OpenAI does on every chunk but the last
            return json.dumps(body)

        def delta(content: dict[str, Any], finish: str | None = None) -> str:
            return chunk([{"index": 0, "delta": content, "finish_reason": finish}])

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        await event(delta({"role": "assistant", "content": ""}))
        if await _pause(disconnected, self.settings.ttft_ms / 1000):
            return
        cut = fault.arg if fault.arg is not None else DEFAULT_CUT
        gap = 1 / self.settings.tokens_per_s if self.settings.tokens_per_s > 0 else 0
        for index, piece in enumerate(pieces):
            if fault.name in ("disconnect", "malformed") and index == cut:
                break
            if index and await _pause(disconnected, gap):
                return
            await event(delta({"content": piece}))
        if fault.name == "disconnect":
            raise _DropConnection
        if fault.name == "malformed":
            await event('{"choices": [{"delta": {"content": "oops"')
        else:
            await event(delta({}, finish_reason))
            if with_usage:
                await event(chunk([], usage=self._usage(request, len(pieces))))
        await event("[DONE]")
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _complete(
        self,
        send: Send,
        request: dict[str, Any],
        model: str,
        fault: Fault,
        disconnected: asyncio.Event,
    ) -> None:
        pieces, finish_reason = self._plan(request, fault)
        generation_s = len(pieces) / self.settings.tokens_per_s if self.settings.tokens_per_s else 0
        if await _pause(disconnected, self.settings.ttft_ms / 1000 + generation_s):
            return
        if fault.name == "malformed":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"choices": [{"message": oops'})
            return
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{next(self.chunk_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(pieces)},
                    "finish_reason": finish_reason,
                }
            ],
        }
        if self.settings.usage:
            body["usage"] = self._usage(request, len(pieces))
        if fault.name != "disconnect":
            await _send_json(send, 200, body)
            return
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": payload[: len(payload) // 2], "more_body": True}
        )
        raise _DropConnection


app = FakeProvider()
"""The app with default settings, for ``uvicorn routing.fake_provider:app``."""


class _HttpConnection:
    """Serves one TCP connection to an ASGI app: HTTP/1.1, keep-alive, chunked bodies.

    Only what the fake provider needs: request bodies sent with Content-Length, no TLS,
    no upgrades.
    """

    def __init__(
        self, app: FakeProvider, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._app = app
        self._reader = reader
        self._writer = writer
        self._buffer = bytearray()
        self._eof = False
        self._arrived = asyncio.Event()

    async def serve(self) -> None:
        # One task does all reading, so a request's pending receive() (waiting for the
        # client to leave) never competes with parsing the next request.
        pump = asyncio.create_task(self._pump())
        try:
            while (request := await self._read_request()) is not None:
                if not await self._run(*request):
                    break
        except ValueError:
            pass  # not HTTP this server understands; drop the connection
        finally:
            pump.cancel()
            self._writer.close()

    async def _pump(self) -> None:
        try:
            while data := await self._reader.read(65536):
                self._buffer += data
                self._arrived.set()
        except ConnectionError:
            pass
        self._eof = True
        self._arrived.set()

    async def _more(self) -> bool:
        """Waits for more bytes; False once the client has closed."""
        if self._eof:
            return False
        self._arrived.clear()
        await self._arrived.wait()
        return True

    async def _read_request(self) -> tuple[str, str, list[tuple[bytes, bytes]], bytes] | None:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > 65536 or not await self._more():
                return None
        head = self._buffer[:end].decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        method, target, _version = head[0].split(" ", 2)
        headers = []
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers.append(
                (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
            )
        length = int(dict(headers).get(b"content-length", b"0"))
        while len(self._buffer) < length:
            if not await self._more():
                return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return method, target, headers, body

    async def _run(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bool:
        """Runs the app for one request; True when the connection can serve another."""
        path, _, query = target.partition("?")
        keep_alive = dict(headers).get(b"connection", b"").lower() != b"close"
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": "",
            "headers": headers,
            "client": self._writer.get_extra_info("peername")[:2],
            "server": self._writer.get_extra_info("sockname")[:2],
        }
        state = {"body_sent": False, "started": False, "done": False, "chunked": True}

        async def receive() -> Event:
            if not state["body_sent"]:
                state["body_sent"] = True
                return {"type": "http.request", "body": body, "more_body": False}
            while await self._more():
                pass
            return {"type": "http.disconnect"}

        async def send(event: Event) -> None:
            if self._eof or self._writer.is_closing():
                return  # the client left; like uvicorn, drop the write silently
            if event["type"] == "http.response.start":
                self._start(event, state, keep_alive)
            elif event["type"] == "http.response.body":
                self._body(event, state)
            with contextlib.suppress(ConnectionError):
                await self._writer.drain()

        try:
            await self._app(scope, receive, send)
        except _DropConnection:
            return False
        except Exception:
            logger.exception("fake provider failed on %s %s", method, path)
            if not state["started"]:
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            return False
        return keep_alive and bool(state["done"])

    def _start(self, event: Event, state: dict[str, bool], keep_alive: bool) -> None:
        status = event["status"]
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers: list[tuple[bytes, bytes]] = list(event.get("headers", []))
        state["chunked"] = all(name.lower() != b"content-length" for name, _ in headers)
        if state["chunked"]:
            headers.append((b"transfer-encoding", b"chunked"))
        if not keep_alive:
            headers.append((b"connection", b"close"))
        lines = [f"HTTP/1.1 {status} {reason}".encode()]
        lines += [name + b": " + value for name, value in headers]
        self._writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        state["started"] = True

    def _body(self, event: Event, state: dict[str, bool]) -> None:
        body: bytes = event.get("body", b"")
        more = event.get("more_body", False)
        if not state["chunked"]:
            self._writer.write(body)
        else:
            if body:
                self._writer.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
            if not more:
                self._writer.write(b"0\r\n\r\n")
        state["done"] = not more


class _BuiltinServer:
    """Serves an ASGI app on a bound socket with asyncio alone, for when uvicorn is absent."""

    def __init__(self, app: FakeProvider, sock: socket.socket) -> None:
        self._app = app
        self._sock = sock
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self.started = threading.Event()

    def run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._accept, sock=self._sock)
        self.started.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await _HttpConnection(self._app, reader, writer).serve()
        except asyncio.CancelledError:
            pass  # shutting down; Python 3.11's start_server logs a cancelled handler task
        finally:
            self._tasks.discard(task)


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every deliberately dropped connection."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _DropConnection))


def _uvicorn_available() -> bool:
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP, not the default 0: asyncio only turns Nagle off on accepted sockets whose
    # proto says TCP, and with Nagle on every response body waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class FakeProviderServer:
    """The fake provider on a free 127.0.0.1 port, in a background thread.

    ``with FakeProviderServer() as fake: client = ProviderClient(base_url=fake.base_url, ...)``
    Uses uvicorn when it is installed, else the built-in server.
    """

    def __init__(
        self,
        settings: FakeSettings | None = None,
        *,
        server: Literal["auto", "uvicorn", "builtin"] = "auto",
        **overrides: Any,
    ) -> None:
        self.app = FakeProvider(replace(settings or FakeSettings(), **overrides))
        self.server = server
        if server == "auto":
            self.server = "uvicorn" if _uvicorn_available() else "builtin"
        self._sock = _bind("127.0.0.1", 0)
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        # A fresh connection per control call: uvicorn closes a connection idle for 5 s,
        # and a call sent on it just as it closes fails with "Server disconnected" (seen
        # in CI, resetting after a long test).
        self._control = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/__fake__",
            timeout=5.0,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._stop: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.server == "uvicorn":
            self._start_uvicorn()
        else:
            self._start_builtin()

    def stop(self) -> None:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            self.reset()  # ends hanging requests, which would otherwise hold up shutdown
        self._control.close()
        self._stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def script(self, faults: Sequence[str]) -> None:
        self._post("script", {"faults": list(faults)})

    def configure(self, **settings: Any) -> None:
        self._post("config", settings)

    def reset(self) -> None:
        self._post("reset", {})

    def stats(self) -> dict[str, Any]:
        response = self._control.get("/stats")
        response.raise_for_status()
        return response.json()

    def _post(self, action: str, body: dict[str, Any]) -> None:
        response = self._control.post(f"/{action}", json=body)
        if response.status_code != 200:
            raise ValueError(f"fake provider refused {action}: {response.text}")

    def _start_builtin(self) -> None:
        server = _BuiltinServer(self.app, self._sock)
        self._thread = threading.Thread(target=server.run, name="fake-provider", daemon=True)
        self._thread.start()
        if not server.started.wait(timeout=10):
            raise RuntimeError("the fake provider did not start")
        self._stop = server.stop

    def _start_uvicorn(self) -> None:
        import uvicorn

        # A hanging request would otherwise hold shutdown for HANG_S.
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
        )
        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._sock]}, name="fake-provider", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake provider did not start")
            time.sleep(0.01)

        def stop() -> None:
            server.should_exit = True

        self._stop = stop


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--ttft-ms", type=float, default=FakeSettings.ttft_ms)
    parser.add_argument("--tokens-per-s", type=float, default=FakeSettings.tokens_per_s)
    parser.add_argument("--reply-tokens", type=int, default=FakeSettings.reply_tokens)
    parser.add_argument("--no-usage", action="store_true", help="never report usage")
    parser.add_argument("--fail-rate", type=float, default=FakeSettings.fail_rate)
    parser.add_argument("--seed", type=int, default=FakeSettings.seed)
    args = parser.parse_args(argv)
    provider = FakeProvider(
        FakeSettings(
            ttft_ms=args.ttft_ms,
            tokens_per_s=args.tokens_per_s,
            reply_tokens=args.reply_tokens,
            usage=not args.no_usage,
            fail_rate=args.fail_rate,
            seed=args.seed,
        )
    )
    if _uvicorn_available():
        import uvicorn

        logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
        uvicorn.run(
            provider, host=args.host, port=args.port, log_level="info", timeout_graceful_shutdown=1
        )
        return
    print(
        f"uvicorn is not installed; serving with the built-in server on "
        f"http://{args.host}:{args.port}/v1",
        file=sys.stderr,
    )
    with contextlib.suppress(KeyboardInterrupt):
        _BuiltinServer(provider, _bind(args.host, args.port)).run()


if __name__ == "__main__":
    main()
