"""The real local model: SmolLM2-135M-Instruct under llama.cpp's OpenAI-compatible server."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from routing.llm_client import ProviderClient
from routing.local_model import MODEL_NAME, local_model_command

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def local_model_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = local_model_command(port=port)
    if command is None:
        pytest.fail("the local model is not installed: run `make install`")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("llama.cpp's server did not start")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_local_model_streams_a_reply_token_by_token(local_model_url: str) -> None:
    client = ProviderClient(base_url=local_model_url, api_key=None, read_timeout=60)
    pieces = []
    with client.stream_chat(
        model=MODEL_NAME,
        messages=[
            {
                "role": "system",
                "content": "You are a helpful shop assistant. Answer in one sentence.",
            },
            {"role": "user", "content": "What can I do if my parcel is late?"},
        ],
        max_tokens=40,
    ) as stream:
        for piece in stream:
            pieces.append(piece)
        completion = stream.completion
    assert len(pieces) > 3, "the reply should arrive in pieces"
    assert completion.text == "".join(pieces)
    assert len(completion.text.split()) >= 3
    # llama.cpp's server sends no usage when streaming: the count is ours, and says so.
    assert completion.usage.estimated
    assert 0 < completion.usage.completion_tokens <= 60
    assert completion.usage.prompt_tokens > 10
    assert completion.ttft_s is not None and completion.ttft_s < completion.total_s
