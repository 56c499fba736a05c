from __future__ import annotations

import uuid
from typing import Any

import pytest

from support_bot.ratelimit import address_allows

pytestmark = pytest.mark.embedded


def test_an_address_is_refused_past_its_limit_and_others_are_not() -> None:
    address = f"2001:db8:2::{uuid.uuid4().hex[:4]}"
    assert [address_allows("message", address, 2) for _ in range(4)] == [
        True,
        True,
        False,
        False,
    ]
    # Counted per kind and per address.
    assert address_allows("connect", address, 2)
    assert address_allows("message", f"{address}1", 2)


def test_an_unreachable_store_locks_nobody_out(settings: Any, caplog: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    address = f"2001:db8:3::{uuid.uuid4().hex[:4]}"
    assert all(address_allows("message", address, 1) for _ in range(3))
    assert "rate limit store unavailable" in caplog.text
