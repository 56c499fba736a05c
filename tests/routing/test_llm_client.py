"""The provider client against the fault-injecting fake provider, over real HTTP.

The fake runs in a background thread on a free port; each test scripts the failure it
needs. The SSE parser is also tested on raw bytes, where odd-but-legal streams are easy
to write down.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest

from orders.tokens import count_tokens
from routing.fake_provider import FakeProviderServer
from routing.llm_client import (
    MAX_RETRY_AFTER_S,
    ChatStreamDecoder,
    Completion,
    ProviderClient,
    ProviderError,
    Usage,
    client_for,
    iter_chat_pieces,
    parse_retry_after,
    usage_from_provider,
)

API_KEY = "sk-test-4f9a1c0de5b7"
MODEL = "fake-model"
MESSAGES = [
    {"role": "system", "content": "You are the shop's assistant."},
    {"role": "user", "content": "Where is my order 1042?"},
]
PROMPT_WORDS = 10  # what the fake reports as prompt_tokens for MESSAGES

# The built-in server is what runs where uvicorn is not installed; both must behave alike.
SERVERS = [
    "builtin",
    pytest.param(
        "uvicorn",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("uvicorn") is None, reason="uvicorn is not installed"
        ),
    ),
]


@pytest.fixture(scope="module", params=SERVERS)
def fake_server(request: pytest.FixtureRequest) -> Iterator[FakeProviderServer]:
    with FakeProviderServer(server=request.param) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeProviderServer) -> FakeProviderServer:
    fake_server.reset()
    return fake_server


@pytest.fixture
def client(fake: FakeProviderServer) -> Iterator[ProviderClient]:
    with ProviderClient(
        base_url=fake.base_url, api_key=API_KEY, connect_timeout=1, read_timeout=2, total_timeout=10
    ) as provider:
        yield provider


def ask(client: ProviderClient, *, stream: bool, max_tokens: int = 200) -> Completion:
    if not stream:
        return client.chat(model=MODEL, messages=MESSAGES, max_tokens=max_tokens)
    with client.stream_chat(model=MODEL, messages=MESSAGES, max_tokens=max_tokens) as reply:
        for _ in reply:
            pass
    return reply.completion


def failure(client: ProviderClient, *, stream: bool) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        ask(client, stream=stream)
    return info.value


# --- Replies over HTTP ---------------------------------------------------------------


def test_streamed_reply_arrives_in_order_and_matches_the_whole_reply(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.configure(reply_tokens=12)
    whole = client.chat(model=MODEL, messages=MESSAGES, max_tokens=200)
    with client.stream_chat(model=MODEL, messages=MESSAGES, max_tokens=200) as reply:
        pieces = list(reply)

    assert pieces[:7] == ["Echo:", " Where", " is", " my", " order", " 1042?", " lorem"]
    assert len(pieces) == 12
    assert "".join(pieces) == reply.completion.text == whole.text
    assert reply.completion.finish_reason == whole.finish_reason == "stop"


def test_pieces_are_handed_over_as_the_provider_generates_them(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.configure(ttft_ms=100, tokens_per_s=50, reply_tokens=6)
    started = time.monotonic()
    with client.stream_chat(model=MODEL, messages=MESSAGES, max_tokens=200) as reply:
        arrivals = [time.monotonic() - started for _ in reply]

    assert len(arrivals) == 6
    assert arrivals[0] >= 0.09
    assert arrivals[-1] - arrivals[0] >= 0.08  # five 20 ms gaps, not one buffered burst
    ttft = reply.completion.ttft_s
    assert ttft is not None and 0.09 <= ttft <= arrivals[0]
    assert reply.completion.total_s >= arrivals[-1]


def test_stream_request_asks_for_usage_and_carries_the_key(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    ask(client, stream=True, max_tokens=77)

    stats = fake.stats()
    request = stats["last_request"]
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}
    assert request["max_tokens"] == 77
    assert request["messages"] == MESSAGES
    assert stats["last_authorization"] == f"Bearer {API_KEY}"


def test_no_authorization_header_without_a_key(fake: FakeProviderServer) -> None:
    with ProviderClient(base_url=fake.base_url, api_key=None) as keyless:
        ask(keyless, stream=False)
    assert fake.stats()["last_authorization"] is None


@pytest.mark.parametrize("stream", [False, True])
def test_reported_usage_is_taken_from_the_provider(
    fake: FakeProviderServer, client: ProviderClient, stream: bool
) -> None:
    fake.configure(reply_tokens=12)
    completion = ask(client, stream=stream)
    assert completion.usage == Usage(
        prompt_tokens=PROMPT_WORDS, completion_tokens=12, cached_tokens=0, estimated=False
    )


@pytest.mark.parametrize("stream", [False, True])
def test_usage_is_counted_locally_when_the_provider_sends_none(
    fake: FakeProviderServer, client: ProviderClient, stream: bool
) -> None:
    fake.configure(reply_tokens=12, usage=False)
    completion = ask(client, stream=stream)

    usage = completion.usage
    assert usage.estimated is True
    assert usage.completion_tokens == count_tokens(completion.text)
    assert 12 <= usage.completion_tokens <= 40
    # Both messages' words, plus role markup for each.
    assert PROMPT_WORDS + 8 <= usage.prompt_tokens <= 3 * PROMPT_WORDS + 8
    assert usage.cached_tokens == 0


def test_max_tokens_cut_is_reported_as_length(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.configure(reply_tokens=20)
    completion = ask(client, stream=True, max_tokens=4)
    assert completion.text == "Echo: Where is my"
    assert completion.finish_reason == "length"


# --- Failures over HTTP --------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("fault", "kind", "transient", "status", "retry_after"),
    [
        ("http_500", "server_error", True, 500, None),
        ("http_503", "server_error", True, 503, None),
        ("http_429:2", "rate_limited", True, 429, 2.0),
        ("http_429", "rate_limited", True, 429, None),
        ("http_400", "client_error", False, 400, None),
        ("http_401", "auth", False, 401, None),
        ("http_404", "not_found", False, 404, None),
    ],
)
def test_http_errors_say_what_went_wrong_and_whether_to_retry(
    fake: FakeProviderServer,
    client: ProviderClient,
    stream: bool,
    fault: str,
    kind: str,
    transient: bool,
    status: int,
    retry_after: float | None,
) -> None:
    fake.script([fault])
    error = failure(client, stream=stream)
    assert (error.kind, error.transient, error.status) == (kind, transient, status)
    assert error.retry_after == retry_after
    assert f"HTTP {status}" in str(error)


def test_a_rejected_key_stays_out_of_the_error_message(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.script(["http_401"])
    error = failure(client, stream=False)
    assert "Incorrect API key provided" in str(error)  # the provider's body was read...
    assert API_KEY not in str(error)  # ...but the key it echoed was not kept
    assert all(API_KEY not in str(arg) for arg in error.args)


def test_the_client_recovers_after_scripted_faults(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.script(["http_500", "ok"])
    assert failure(client, stream=True).kind == "server_error"
    assert ask(client, stream=True).text.startswith("Echo: Where is my order 1042?")
    assert fake.stats()["requests"] == 2


@pytest.mark.parametrize("stream", [False, True])
def test_a_hanging_provider_times_out_after_the_read_timeout(
    fake: FakeProviderServer, stream: bool
) -> None:
    fake.script(["hang"])
    with ProviderClient(base_url=fake.base_url, api_key=API_KEY, read_timeout=0.5) as impatient:
        started = time.monotonic()
        error = failure(impatient, stream=stream)
        elapsed = time.monotonic() - started
    assert (error.kind, error.transient) == ("timeout", True)
    assert 0.45 <= elapsed < 1.5


def test_a_trickling_stream_is_cut_at_the_total_timeout(fake: FakeProviderServer) -> None:
    # Every gap is short, so only the wall-clock budget can stop this reply.
    fake.configure(tokens_per_s=20, reply_tokens=200)
    with ProviderClient(
        base_url=fake.base_url, api_key=API_KEY, read_timeout=2, total_timeout=0.5
    ) as hurried:
        started = time.monotonic()
        error = failure(hurried, stream=True)
        elapsed = time.monotonic() - started
    assert (error.kind, error.transient) == ("timeout", True)
    assert error.partial_text.startswith("Echo: Where")
    assert elapsed < 1.2


def test_a_dropped_stream_keeps_the_text_that_arrived(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.script(["disconnect:3"])
    error = failure(client, stream=True)
    assert (error.kind, error.transient) == ("disconnected", True)
    assert error.partial_text == "Echo: Where is"


def test_a_dropped_whole_reply_is_a_transient_disconnect(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.script(["disconnect"])
    error = failure(client, stream=False)
    assert (error.kind, error.transient) == ("disconnected", True)


@pytest.mark.parametrize("stream", [False, True])
def test_a_malformed_reply_is_permanent(
    fake: FakeProviderServer, client: ProviderClient, stream: bool
) -> None:
    fake.script(["malformed:2"])
    error = failure(client, stream=stream)
    assert (error.kind, error.transient) == ("malformed", False)
    assert error.partial_text == ("Echo: Where" if stream else "")


@pytest.mark.parametrize("stream", [False, True])
def test_an_empty_reply_is_transient(
    fake: FakeProviderServer, client: ProviderClient, stream: bool
) -> None:
    fake.script(["empty"])
    error = failure(client, stream=stream)
    assert (error.kind, error.transient) == ("empty", True)


def test_an_abandoned_stream_is_released_at_once(
    fake: FakeProviderServer, client: ProviderClient
) -> None:
    fake.configure(tokens_per_s=20, reply_tokens=200)  # ten seconds if read to the end
    started = time.monotonic()
    with client.stream_chat(model=MODEL, messages=MESSAGES, max_tokens=500) as reply:
        assert next(reply) == "Echo:"
    assert time.monotonic() - started < 0.5
    with pytest.raises(StopIteration):
        next(reply)
    with pytest.raises(RuntimeError):
        _ = reply.completion

    fake.configure(tokens_per_s=0, reply_tokens=5)
    assert ask(client, stream=True).text == "Echo: Where is my order"


def test_nothing_listening_is_a_transient_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ProviderClient(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY) as nowhere:
        error = failure(nowhere, stream=True)
    assert (error.kind, error.transient) == ("connect", True)


def test_client_for_shares_one_client_per_endpoint_and_key() -> None:
    base_url = "http://127.0.0.1:9/v1"
    seen: list[ProviderClient] = []
    threads = [
        threading.Thread(target=lambda: seen.append(client_for(base_url, "sk-a"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(shared) for shared in seen}) == 1
    assert client_for(base_url, "sk-a") is seen[0]
    assert client_for(base_url, "sk-b") is not seen[0]
    assert client_for("http://127.0.0.1:10/v1", "sk-a") is not seen[0]


# --- The SSE parser on raw bytes -----------------------------------------------------


def sse(*events: dict | str, end: bytes = b"data: [DONE]\n\n") -> bytes:
    return (
        b"".join(
            b"data: " + (e if isinstance(e, str) else json.dumps(e)).encode() + b"\n\n"
            for e in events
        )
        + end
    )


def delta(content: str | None = None, finish: str | None = None, **extra: object) -> dict:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content, **extra}, "finish_reason": finish}],
    }


def parse(*chunks: bytes) -> tuple[list[str], ChatStreamDecoder]:
    decoder = ChatStreamDecoder()
    return list(iter_chat_pieces(chunks, decoder)), decoder


def parse_error(*chunks: bytes) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        parse(*chunks)
    return info.value


def test_parser_skips_comments_blank_lines_and_other_fields() -> None:
    usage = {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    raw = b": keep-alive\n\n\nevent: message\nid: 1\nretry: 1000\n" + sse(
        delta(role="assistant"),
        delta(None),
        delta("Hel"),
        delta("lo"),
        delta(None, "stop"),
        {"choices": [], "usage": usage},
    )
    pieces, decoder = parse(raw)
    assert pieces == ["Hel", "lo"]
    assert decoder.text == "Hello"
    assert decoder.finish_reason == "stop"
    assert decoder.usage == Usage(
        prompt_tokens=7, completion_tokens=2, cached_tokens=3, estimated=False
    )


def test_parser_joins_multi_line_data() -> None:
    raw = b'data: {"choices": [{"index": 0,\ndata: "delta": {"content": "Hi"}}]}\n\n'
    pieces, _ = parse(raw + b"data: [DONE]\n\n")
    assert pieces == ["Hi"]


def test_parser_copes_with_bytes_split_anywhere() -> None:
    raw = sse(delta("café "), delta("☕\u2028ok"), delta(None, "stop")).replace(b"\n", b"\r\n")
    whole, _ = parse(raw)
    one_by_one, _ = parse(*(raw[i : i + 1] for i in range(len(raw))))
    assert whole == one_by_one == ["café ", "☕\u2028ok"]


def test_stream_closed_after_finish_reason_without_done_is_complete() -> None:
    pieces, decoder = parse(sse(delta("Hi"), delta(None, "stop"), end=b""))
    assert pieces == ["Hi"]
    assert decoder.finish_reason == "stop"


def test_stream_closed_before_finishing_is_a_disconnect_with_the_partial_text() -> None:
    error = parse_error(sse(delta("Hel"), delta("lo"), end=b""))
    assert (error.kind, error.transient) == ("disconnected", True)
    assert error.partial_text == "Hello"


def test_a_line_cut_off_by_the_connection_is_a_disconnect_not_garbage() -> None:
    error = parse_error(sse(delta("Hi"), end=b'data: {"choices": [{"del'))
    assert error.kind == "disconnected"
    assert error.partial_text == "Hi"


def test_a_chunk_that_is_not_json_is_malformed_with_the_partial_text() -> None:
    error = parse_error(sse(delta("Hi"), "not json"))
    assert (error.kind, error.transient) == ("malformed", False)
    assert error.partial_text == "Hi"


@pytest.mark.parametrize(
    "chunk",
    [
        '{"choices": "nope"}',
        '{"choices": [{"index": 0, "delta": {"content": 5}}]}',
        '{"choices": [{"index": 0, "delta": "Hi"}]}',
        '{"choices": ["Hi"]}',
        '{"id": "chatcmpl-1"}',
        "[1, 2]",
    ],
)
def test_a_chunk_of_the_wrong_shape_is_malformed(chunk: str) -> None:
    assert parse_error(sse(chunk)).kind == "malformed"


def test_bytes_that_are_not_utf8_are_malformed() -> None:
    assert parse_error(b'data: {"choices": []}\n\ndata: \xff\xfe\n\n').kind == "malformed"


def test_a_stream_without_text_is_empty() -> None:
    error = parse_error(sse(delta(role="assistant"), delta(None, "stop")))
    assert (error.kind, error.transient) == ("empty", True)


def test_an_error_object_inside_the_stream_is_a_server_error() -> None:
    error = parse_error(sse(delta("Hi"), {"error": {"message": "overloaded"}}))
    assert (error.kind, error.transient) == ("server_error", True)
    assert "overloaded" in str(error)
    assert error.partial_text == "Hi"


def test_provider_usage_variants() -> None:
    deepseek = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 6}
    assert usage_from_provider(deepseek) == Usage(10, 2, 6, estimated=False)
    assert usage_from_provider(None) is None
    assert usage_from_provider({"prompt_tokens": "10", "completion_tokens": 2}) is None


# --- Retry-After ---------------------------------------------------------------------


NOW = parsedate_to_datetime("Wed, 21 Oct 2015 07:27:30 GMT")


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 30.0),
        ({"retry-after": format_datetime(NOW.replace(minute=26), usegmt=True)}, 0.0),
        ({"retry-after": "86400"}, MAX_RETRY_AFTER_S),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "2", "retry-after-ms": "1500"}, 1.5),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=NOW.timestamp()) == seconds
