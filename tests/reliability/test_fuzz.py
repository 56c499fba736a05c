"""Property-based fuzzing of everything that comes from outside: import files, provider
SSE streams and websocket frames. No server error, no state change from rejected input."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.import_schema import ShopImportError
from orders.models import Customer, Order
from orders.services.shop_import import shop_import
from routing.llm_client import ChatStreamDecoder, ProviderError, iter_chat_pieces
from support_bot.models import Message
from support_bot.routing import websocket_urlpatterns

pytestmark = pytest.mark.reliability

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["", "-1", "1e400", "NaN", "12.345", "2025-01-01", "shipped"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
order_like = st.fixed_dictionaries(
    {
        "number": scalars,
        "customer": scalars,
        "status": scalars,
        "placed_at": scalars,
        "currency": scalars,
        "lines": st.lists(
            st.dictionaries(
                st.sampled_from(["id", "name", "quantity", "unit_price", "status", "sku"]), scalars
            ),
            max_size=3,
        ),
    },
    optional={"payments": json_values, "shipments": json_values, "total": scalars},
)
shop_files = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "customers": st.lists(
                st.dictionaries(st.sampled_from(["id", "name", "email", "language"]), scalars),
                max_size=3,
            ),
            "orders": st.lists(order_like, max_size=3),
            "policies": json_values,
            "products": json_values,
        },
    ),
)


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=shop_files)
def test_fuzzed_import_files_are_rejected_cleanly_or_imported(
    data: Any, figures: Counter[str]
) -> None:
    figures["fuzz cases"] += 1
    before = (Customer.objects.count(), Order.objects.count())
    try:
        shop_import(data=data)
    except ShopImportError as error:
        assert error.errors and all(":" in line for line in error.errors)
        assert (Customer.objects.count(), Order.objects.count()) == before


sse_lines = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b": keep-alive\n",
                b"\n",
                b"event: message\n",
                b"data: [DONE]\n\n",
                b'data: {"choices": []}\n\n',
                b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n',
                b'data: {"choices": [{"delta": {"content": null}, "finish_reason": "stop"}]}\n\n',
                b'data: {"usage": {"prompt_tokens": "x"}}\n\n',
                b"data: {\n",
                b"data: \xff\xfe\n\n",
            ]
        ),
        st.binary(max_size=40),
        st.text(max_size=40).map(lambda t: f"data: {t}\n\n".encode()),
    ),
    max_size=12,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunks=sse_lines)
def test_fuzzed_provider_streams_yield_text_or_one_provider_error(
    chunks: list[bytes], figures: Counter[str]
) -> None:
    figures["fuzz cases"] += 1
    decoder = ChatStreamDecoder()
    pieces: list[str] = []
    try:
        for piece in iter_chat_pieces(chunks, decoder):
            assert isinstance(piece, str)
            pieces.append(piece)
    except ProviderError as error:
        assert error.kind in {"malformed", "disconnected", "empty", "server_error"}
        return
    assert "".join(pieces) == decoder.text


@settings(max_examples=200, deadline=None)
@given(data=st.lists(st.binary(max_size=60), max_size=5))
def test_raw_bytes_from_a_provider_end_in_text_or_one_provider_error(data: list[bytes]) -> None:
    decoder = ChatStreamDecoder()
    try:
        text = "".join(iter_chat_pieces(data, decoder))
    except ProviderError:
        return
    assert text == decoder.text


frames = st.one_of(
    st.text(min_size=1, max_size=300),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["message", "verify", "rating", "typing", "ping", "hello", "contact", "nope"]
            )
        },
        optional={
            "text": scalars,
            "client_id": st.one_of(scalars, st.uuids().map(str)),
            "order_number": scalars,
            "contact": scalars,
            "score": scalars,
            "conversation": scalars,
            "customer_token": scalars,
            "email": scalars,
        },
    ).map(json.dumps),
)


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=st.lists(frames, min_size=1, max_size=6))
async def test_fuzzed_websocket_frames_get_answers_never_a_crash(
    sequence: list[str], figures: Counter[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_reply(reply_id: int, text: str | None = None) -> None:
        return None

    monkeypatch.setattr("support_bot.consumers.reply_enqueue", no_reply)
    figures["fuzz cases"] += 1
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/chat/")
    connected, _ = await ws.connect()
    assert connected
    try:
        await ws.send_json_to({"type": "hello", "conversation": None})
        assert (await ws.receive_json_from(timeout=5))["type"] == "welcome"
        acked = 0
        for frame in sequence:
            await ws.send_to(text_data=frame)
            while not await ws.receive_nothing(timeout=0.05):
                answer = await ws.receive_json_from(timeout=5)
                assert answer["type"] in {
                    "error",
                    "ack",
                    "pong",
                    "verified",
                    "state",
                    "message",
                    "welcome",
                }
                acked += answer["type"] == "ack"
        # The connection is still usable, and only acknowledged messages were stored.
        await ws.send_json_to({"type": "ping"})
        while (answer := await ws.receive_json_from(timeout=5))["type"] != "pong":
            acked += answer["type"] == "ack"
        assert await Message.objects.filter(role="shopper").acount() <= acked
    finally:
        await ws.disconnect()
