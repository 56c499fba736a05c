"""The one door to LLM providers.

Every chat-completions call in the project goes through ``ProviderClient``. Providers are
any OpenAI-compatible endpoint (OpenAI, DeepSeek, Gemini's OpenAI endpoint, vLLM, Ollama,
llama.cpp's server). The client is synchronous because it runs inside Celery worker
processes, and it turns every way a call can fail into one ``ProviderError`` whose
``transient`` flag tells the router whether retrying or falling back can help.

This module must not import Django: the fake provider, benchmarks and these tests use it
without settings.
"""

from __future__ import annotations

import codecs
import contextlib
import email.utils
import json
import math
import os
import re
import threading
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC
from types import TracebackType
from typing import Any, Literal, Self, TypeGuard

import httpx

from orders.tokens import count_tokens

ProviderErrorKind = Literal[
    "timeout",
    "connect",
    "rate_limited",
    "server_error",
    "client_error",
    "auth",
    "not_found",
    "malformed",
    "disconnected",
    "empty",
]

# An empty reply is transient: small local models sometimes emit only an end-of-sequence
# token, and asking again (or asking another tier) usually gets an answer.
_TRANSIENT_KINDS = frozenset(
    {"timeout", "connect", "rate_limited", "server_error", "disconnected", "empty"}
)

# A provider asking us to wait longer than this is effectively down for a chat customer;
# the cap keeps a bogus header from parking a worker.
MAX_RETRY_AFTER_S = 300.0

# Chat formats wrap each message in a few tokens of role markup.
PROMPT_TOKENS_PER_MESSAGE = 4

# How much of an error body or bad chunk goes into an exception message.
_SNIPPET_CHARS = 300
_ERROR_BODY_BYTES = 4096


class ProviderError(Exception):
    """A failed provider call; ``transient`` says whether retrying could help."""

    def __init__(
        self,
        message: str,
        *,
        kind: ProviderErrorKind,
        status: int | None = None,
        retry_after: float | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.kind: ProviderErrorKind = kind
        self.transient: bool = kind in _TRANSIENT_KINDS
        self.status = status
        self.retry_after = retry_after
        self.partial_text = partial_text


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    estimated: bool


@dataclass
class Completion:
    text: str
    usage: Usage
    finish_reason: str | None
    ttft_s: float | None
    total_s: float


def parse_retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait before retrying, from ``Retry-After`` (delta or HTTP-date).

    OpenAI also sends ``retry-after-ms``, which is more precise, so it wins when present.
    """
    seconds: float | None = None
    if (millis := headers.get("retry-after-ms")) is not None:
        with contextlib.suppress(ValueError):
            seconds = float(millis) / 1000
    if seconds is None and (value := headers.get("retry-after")) is not None:
        seconds = _retry_after_seconds(value.strip(), now=time.time() if now is None else now)
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _retry_after_seconds(value: str, *, now: float) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with unknown local zone
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def usage_from_provider(raw: object) -> Usage | None:
    """The provider's own usage report, or None when it sent none we can trust.

    OpenAI puts ``"usage": null`` on every streamed chunk but the last, so an absent or
    odd usage is not an error: we fall back to counting locally.
    """
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not _is_count(prompt) or not _is_count(completion):
        return None
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    if not _is_count(cached):
        cached = raw.get("prompt_cache_hit_tokens")  # DeepSeek's name for the same thing
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached if _is_count(cached) else 0,
        estimated=False,
    )


def estimate_usage(messages: list[dict[str, str]], text: str) -> Usage:
    prompt = sum(count_tokens(m.get("content") or "") for m in messages)
    return Usage(
        prompt_tokens=prompt + PROMPT_TOKENS_PER_MESSAGE * len(messages),
        completion_tokens=count_tokens(text),
        cached_tokens=0,
        estimated=True,
    )


# Only these end a line in an event stream; str.splitlines() would also split on U+2028,
# which JSON allows raw inside a string.
_LINE_END = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Splits a server-sent-event byte stream into the data of each event.

    Comment lines (``:``), ``event:``/``id:``/``retry:`` fields and blank keep-alives carry
    nothing a chat completion needs; several ``data:`` lines of one event join with
    newlines. Bytes may be split anywhere, even inside a UTF-8 character or a CRLF.
    """

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[str]:
        """Raises UnicodeDecodeError on bytes that are not UTF-8."""
        self._buffer += self._utf8.decode(chunk)
        events: list[str] = []
        position = 0
        for match in _LINE_END.finditer(self._buffer):
            if match.group() == "\r" and match.end() == len(self._buffer):
                break  # may be the first half of a CRLF
            self._take_line(self._buffer[position : match.start()], events)
            position = match.end()
        self._buffer = self._buffer[position:]
        return events

    def end(self) -> list[str]:
        """The events still pending when the stream closed.

        A final event without its blank line still counts when its last line was complete,
        since some servers close right after ``data: [DONE]\\n``. A line cut off mid-way
        by a dropped connection is discarded, so the caller sees an early end rather than
        a broken chunk.
        """
        self._buffer += self._utf8.decode(b"", final=True)
        events: list[str] = []
        if self._buffer.endswith("\r"):
            self._take_line(self._buffer[:-1], events)
        self._buffer = ""
        self._take_line("", events)
        return events

    def _take_line(self, line: str, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(":"):
            return
        field, colon, value = line.partition(":")
        if field == "data":
            self._data.append(value[1:] if colon and value.startswith(" ") else value)


class ChatStreamDecoder:
    """Turns the event data of a streamed chat completion into text pieces.

    It tracks the text so far, so every error it raises carries ``partial_text``.
    """

    def __init__(self, *, where: str = "stream") -> None:
        self.where = where
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.done = False
        self._parts: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, data: str) -> str:
        """Takes one event's data; returns the new text in it ("" when none)."""
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self.malformed(f"chunk is not JSON: {data[:_SNIPPET_CHARS]!r}") from None
        if not isinstance(chunk, dict):
            raise self.malformed(f"chunk is not an object: {data[:_SNIPPET_CHARS]!r}")
        if "error" in chunk:
            # OpenAI and vLLM report a failure that happens after the 200 inside the stream.
            raise ProviderError(
                f"{self.where}: error inside stream: {_error_message(chunk)}",
                kind="server_error",
                partial_text=self.text,
            )
        usage = usage_from_provider(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if choices is None and usage is not None:
            return ""  # a usage-only chunk from a provider that omits "choices"
        if not isinstance(choices, list):
            raise self.malformed(f"chunk has no choices list: {data[:_SNIPPET_CHARS]!r}")
        piece = "".join(self._take_choice(choice, data) for choice in choices)
        if piece:
            self._parts.append(piece)
        return piece

    def end(self) -> None:
        """Checks how the stream ended; raises when it broke off or said nothing."""
        if not self.done and self.finish_reason is None:
            raise ProviderError(
                f"{self.where}: connection closed before the reply finished",
                kind="disconnected",
                partial_text=self.text,
            )
        if not self._parts:
            raise ProviderError(f"{self.where}: the reply was empty", kind="empty")

    def _take_choice(self, choice: object, data: str) -> str:
        if not isinstance(choice, dict):
            raise self.malformed(f"choice is not an object: {data[:_SNIPPET_CHARS]!r}")
        if choice.get("index", 0) != 0:
            return ""  # we always ask for one choice
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        reason = choice.get("finish_reason")
        if (
            not isinstance(delta, dict)
            or not isinstance(content, str | None)
            or not isinstance(reason, str | None)
        ):
            raise self.malformed(f"chunk has the wrong shape: {data[:_SNIPPET_CHARS]!r}")
        if reason is not None:
            self.finish_reason = reason
        return content or ""

    def malformed(self, detail: str) -> ProviderError:
        return ProviderError(f"{self.where}: {detail}", kind="malformed", partial_text=self.text)


def iter_chat_pieces(chunks: Iterable[bytes], decoder: ChatStreamDecoder) -> Iterator[str]:
    """Yields the text pieces of a raw chat-completions event stream as they arrive.

    Stops at ``[DONE]`` without reading further from ``chunks``; raises ProviderError
    when the stream is malformed, broke off, or ended with no text.
    """
    sse = SSEDecoder()
    try:
        for chunk in chunks:
            for data in sse.feed(chunk):
                if piece := decoder.feed(data):
                    yield piece
                if decoder.done:
                    decoder.end()
                    return
        for data in sse.end():
            if piece := decoder.feed(data):
                yield piece
    except UnicodeDecodeError as exc:
        raise decoder.malformed(f"stream is not UTF-8: {exc}") from None
    decoder.end()


def _error_message(body: object) -> str:
    """The human part of an OpenAI-style error body, whatever the provider's variant."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            error = error.get("message") or error.get("detail") or error
        if isinstance(error, list):  # Gemini wraps its error object in a list
            error = error[0] if error else ""
        return str(error)[:_SNIPPET_CHARS]
    return str(body)[:_SNIPPET_CHARS]


def _kind_for_status(status: int) -> ProviderErrorKind:
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server_error"
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    return "client_error"


class _DeadlinePassed(Exception):
    """The call's wall-clock budget ran out between two reads."""


def _until(chunks: Iterator[bytes], deadline: float) -> Iterator[bytes]:
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise _DeadlinePassed
        yield chunk


class ChatStream:
    """The pieces of a streamed reply, as they arrive; ``completion`` once exhausted.

    Nothing is sent until the first ``next()``, so errors (HTTP status ones included)
    are raised while iterating. ``close()`` (or leaving the ``with`` block) abandons the
    reply and releases the connection.
    """

    def __init__(
        self, client: ProviderClient, *, model: str, messages: list[dict[str, str]], payload: dict
    ) -> None:
        self._client = client
        self._model = model
        self._messages = messages
        self._payload = payload
        self._completion: Completion | None = None
        self._pieces = self._generate()

    @property
    def completion(self) -> Completion:
        if self._completion is None:
            raise RuntimeError("the stream has not finished")
        return self._completion

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        self._pieces.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _generate(self) -> Generator[str, None, None]:
        client = self._client
        where = client._where(self._model)
        decoder = ChatStreamDecoder(where=where)
        started = time.monotonic()
        ttft: float | None = None
        with client._send(self._payload, model=self._model) as response:
            raw = _until(response.iter_bytes(), started + client.total_timeout)
            try:
                for piece in iter_chat_pieces(raw, decoder):
                    if ttft is None:
                        ttft = time.monotonic() - started
                    yield piece
            except httpx.HTTPError as exc:
                raise client._transport_error(
                    exc, model=self._model, partial_text=decoder.text, response_started=True
                ) from exc
            except _DeadlinePassed:
                raise ProviderError(
                    f"{where}: no complete reply within {client.total_timeout}s",
                    kind="timeout",
                    partial_text=decoder.text,
                ) from None
            # Reading the rest (normally just the chunked-encoding terminator) lets the
            # connection go back to the pool instead of being thrown away.
            with contextlib.suppress(httpx.HTTPError, _DeadlinePassed):
                for _ in raw:
                    pass
        self._completion = Completion(
            text=decoder.text,
            usage=decoder.usage or estimate_usage(self._messages, decoder.text),
            finish_reason=decoder.finish_reason,
            ttft_s=ttft,
            total_s=time.monotonic() - started,
        )


class ProviderClient:
    """One provider endpoint, with its own connection pool."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float = 120.0,
    ) -> None:
        if min(connect_timeout, read_timeout, total_timeout) <= 0:
            raise ValueError("timeouts must be positive")
        self.base_url = base_url.rstrip("/")
        self.total_timeout = total_timeout
        self._api_key = api_key
        url = httpx.URL(self.base_url)
        # Never the full URL: a userinfo part or a ?key= would leak into logs.
        self._origin = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path}"
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        # The read timeout is the longest silence between bytes; it never exceeds the
        # whole call's budget, which is otherwise only checked as bytes arrive.
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(
                connect=connect_timeout,
                read=min(read_timeout, total_timeout),
                write=min(read_timeout, total_timeout),
                pool=connect_timeout,
            ),
        )

    def chat(
        self,
        *,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float = 0.2,
    ) -> Completion:
        payload = self._payload(model, messages, max_tokens, temperature)
        started = time.monotonic()
        with self._send(payload, model=model) as response:
            raw = _until(response.iter_bytes(), started + self.total_timeout)
            try:
                body = b"".join(raw)
            except httpx.HTTPError as exc:
                raise self._transport_error(exc, model=model, response_started=True) from exc
            except _DeadlinePassed:
                raise ProviderError(
                    f"{self._where(model)}: no complete reply within {self.total_timeout}s",
                    kind="timeout",
                ) from None
        text, finish_reason, usage = self._parse_completion(body, model=model)
        return Completion(
            text=text,
            usage=usage or estimate_usage(messages, text),
            finish_reason=finish_reason,
            ttft_s=None,
            total_s=time.monotonic() - started,
        )

    def stream_chat(
        self,
        *,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float = 0.2,
        stop: Sequence[str] = (),
    ) -> ChatStream:
        payload = self._payload(model, messages, max_tokens, temperature)
        if stop:
            # OpenAI's API takes at most four.
            payload["stop"] = list(stop)[:4]
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
        return ChatStream(self, model=model, messages=messages, payload=payload)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _payload(
        model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        return {
            "model": model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }

    def _where(self, model: str) -> str:
        return f"{self._origin} model={model}"

    def _redact(self, text: str) -> str:
        # Some providers echo the key they rejected in their 401 body.
        return text.replace(self._api_key, "[api key]") if self._api_key else text

    @contextlib.contextmanager
    def _send(self, payload: dict[str, Any], *, model: str) -> Iterator[httpx.Response]:
        """Posts the request and yields a response whose status is a success."""
        request = self._http.build_request(
            "POST", f"{self.base_url}/chat/completions", json=payload
        )
        if payload.get("stream"):
            request.headers["Accept"] = "text/event-stream"
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, model=model, response_started=False) from exc
        try:
            if not response.is_success:
                raise self._status_error(response, model=model)
            yield response
        finally:
            response.close()

    def _status_error(self, response: httpx.Response, *, model: str) -> ProviderError:
        status = response.status_code
        snippet = b""
        with contextlib.suppress(httpx.HTTPError):
            for chunk in response.iter_bytes():
                snippet += chunk
                if len(snippet) >= _ERROR_BODY_BYTES:
                    break
        text = snippet.decode("utf-8", "replace")
        try:
            detail = _error_message(json.loads(text))
        except ValueError:
            detail = text[:_SNIPPET_CHARS]
        return ProviderError(
            self._redact(f"{self._where(model)}: HTTP {status}: {detail}"),
            kind=_kind_for_status(status),
            status=status,
            retry_after=parse_retry_after(response.headers),
        )

    def _transport_error(
        self,
        exc: httpx.HTTPError,
        *,
        model: str,
        response_started: bool,
        partial_text: str = "",
    ) -> ProviderError:
        kind: ProviderErrorKind
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.ProxyError):
            kind = "connect"
        elif isinstance(exc, httpx.TimeoutException):
            kind = "timeout"
        elif isinstance(exc, httpx.DecodingError):
            kind = "malformed"
        elif isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            kind = "client_error"  # our configuration or request is wrong; retrying won't help
        elif response_started:
            kind = "disconnected"  # reset or closed while the body was arriving
        else:
            kind = "connect"  # closed or reset before any response, e.g. a stale connection
        return ProviderError(
            self._redact(f"{self._where(model)}: {kind}: {type(exc).__name__}: {exc}"),
            kind=kind,
            partial_text=partial_text,
        )

    def _parse_completion(self, body: bytes, *, model: str) -> tuple[str, str | None, Usage | None]:
        where = self._where(model)
        snippet = body[:_SNIPPET_CHARS].decode("utf-8", "replace")
        try:
            data = json.loads(body)
        except ValueError:
            raise ProviderError(
                f"{where}: body is not JSON: {snippet!r}", kind="malformed"
            ) from None
        if isinstance(data, dict) and "error" in data and "choices" not in data:
            raise ProviderError(
                self._redact(f"{where}: error with a success status: {_error_message(data)}"),
                kind="server_error",
            )
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
            finish_reason = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ProviderError(
                f"{where}: body has the wrong shape: {snippet!r}", kind="malformed"
            ) from None
        # A null content is what OpenAI sends when the model said nothing (or refused).
        if content is None or content == "":
            raise ProviderError(f"{where}: the reply was empty", kind="empty")
        if not isinstance(content, str) or not isinstance(finish_reason, str | None):
            raise ProviderError(f"{where}: body has the wrong shape: {snippet!r}", kind="malformed")
        return content, finish_reason, usage_from_provider(data.get("usage"))


_clients: dict[tuple[str, str | None, float, float, float], ProviderClient] = {}
_clients_lock = threading.Lock()


def client_for(
    base_url: str,
    api_key: str | None,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    total_timeout: float = 120.0,
) -> ProviderClient:
    """The process's shared client for one endpoint and key, so connections are reused."""
    key = (base_url, api_key, connect_timeout, read_timeout, total_timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = ProviderClient(
                base_url=base_url,
                api_key=api_key,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                total_timeout=total_timeout,
            )
        return client


def _forget_clients_in_child() -> None:
    # A forked Celery worker must not share the parent's sockets (two processes reading
    # one connection interleave replies), and a lock held by another parent thread at
    # fork time would never be released in the child.
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_clients_in_child)
