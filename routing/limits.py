"""Budgets, per-provider rate limits and circuit breakers, shared by every worker.

With Redis (``REDIS_URL``) each check-and-update is one Lua script, so concurrent workers
cannot both pass a limit that only one of them fits under. The embedded default has one
process, where a lock gives the same guarantee.

Money is counted in integer nano-dollars in Redis (Lua numbers are doubles; integers stay
exact far beyond any budget).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.conf import settings

NANO = Decimal("1e9")
BREAKER_FAILURES = 5
BREAKER_WINDOW_S = 60
BREAKER_COOL_DOWN_S = 30

_RESERVE = """
local day = tonumber(redis.call('GET', KEYS[1]) or ARGV[4])
local conv = tonumber(redis.call('GET', KEYS[2]) or '0')
local amount = tonumber(ARGV[1])
if day + amount > tonumber(ARGV[2]) then return 1 end
if conv + amount > tonumber(ARGV[3]) then return 2 end
redis.call('SET', KEYS[1], day + amount, 'EX', 172800)
redis.call('SET', KEYS[2], conv + amount, 'EX', 86400)
return 0
"""

_SETTLE = """
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[1]) end
end
return 0
"""

_RATE = """
local requests = tonumber(redis.call('GET', KEYS[1]) or '0')
local tokens = tonumber(redis.call('GET', KEYS[2]) or '0')
local rpm, tpm, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if (rpm > 0 and requests + 1 > rpm) or (tpm > 0 and tokens + want > tpm and tokens > 0) then
  return redis.call('PTTL', KEYS[1])
end
redis.call('INCR', KEYS[1]); redis.call('PEXPIRE', KEYS[1], 61000)
redis.call('INCRBY', KEYS[2], want); redis.call('PEXPIRE', KEYS[2], 61000)
return 0
"""

_FAIL = """
if redis.call('EXISTS', KEYS[3]) == 1 then
  -- a failed half-open probe: open again at once
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
local fails = redis.call('INCR', KEYS[1])
if fails == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local oks = tonumber(redis.call('GET', KEYS[4]) or '0')
-- enough failures, and more of them than successes in the window
if fails >= tonumber(ARGV[2]) and fails > oks then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1], KEYS[4])
  return 1
end
return 0
"""


def to_nano(amount: Decimal) -> int:
    return int((amount * NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nano(amount: int) -> Decimal:
    return Decimal(amount) / NANO


@dataclass(frozen=True)
class Reservation:
    day_key: str
    conversation_key: str
    nano: int


class BudgetExceeded(Exception):
    def __init__(self, scope: str) -> None:
        self.scope = scope  # "day" or "conversation"
        super().__init__(f"{scope} budget exhausted")


class _Backend:
    def reserve(
        self, keys: list[str], amount: int, day_limit: int, conv_limit: int, day_start: int
    ) -> int:
        raise NotImplementedError

    def settle(self, keys: list[str], delta: int) -> None:
        raise NotImplementedError

    def rate(self, keys: list[str], rpm: int, tpm: int, tokens: int) -> int:
        raise NotImplementedError

    def fail(self, model_key: str) -> bool:
        raise NotImplementedError

    def breaker_state(self, model_key: str) -> str:
        raise NotImplementedError

    def succeed(self, model_key: str) -> None:
        raise NotImplementedError

    def get_int(self, key: str) -> int | None:
        raise NotImplementedError


class _RedisBackend(_Backend):
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._reserve = self.client.register_script(_RESERVE)
        self._settle = self.client.register_script(_SETTLE)
        self._rate = self.client.register_script(_RATE)
        self._fail = self.client.register_script(_FAIL)

    def reserve(
        self, keys: list[str], amount: int, day_limit: int, conv_limit: int, day_start: int
    ) -> int:
        return int(self._reserve(keys=keys, args=[amount, day_limit, conv_limit, day_start]))

    def settle(self, keys: list[str], delta: int) -> None:
        self._settle(keys=keys, args=[delta])

    def rate(self, keys: list[str], rpm: int, tpm: int, tokens: int) -> int:
        return int(self._rate(keys=keys, args=[rpm, tpm, tokens]))

    def fail(self, model_key: str) -> bool:
        keys = [
            f"{model_key}:fails",
            f"{model_key}:open",
            f"{model_key}:tripped",
            f"{model_key}:oks",
        ]
        return bool(
            self._fail(keys=keys, args=[BREAKER_WINDOW_S, BREAKER_FAILURES, BREAKER_COOL_DOWN_S])
        )

    def breaker_state(self, model_key: str) -> str:
        if self.client.exists(f"{model_key}:open"):
            return "open"
        # After the cool-down one worker probes: it takes the probe slot, the others wait.
        if self.client.exists(f"{model_key}:tripped"):
            taken = self.client.set(f"{model_key}:probe", "1", nx=True, ex=BREAKER_COOL_DOWN_S)
            return "half_open" if taken else "open"
        return "closed"

    def succeed(self, model_key: str) -> None:
        self.client.delete(f"{model_key}:tripped", f"{model_key}:probe")
        pipe = self.client.pipeline()
        pipe.incr(f"{model_key}:oks")
        pipe.expire(f"{model_key}:oks", BREAKER_WINDOW_S, nx=True)
        pipe.execute()

    def mark_tripped(self, model_key: str) -> None:
        self.client.set(f"{model_key}:tripped", "1", ex=86400)

    def release_probe(self, model_key: str) -> None:
        self.client.delete(f"{model_key}:probe")

    def get_int(self, key: str) -> int | None:
        value = self.client.get(key)
        return None if value is None else int(value)


class _LocalBackend(_Backend):
    """One process (the embedded default): a lock makes each step atomic."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, tuple[int, float]] = {}

    def _get(self, key: str) -> int | None:
        value = self.values.get(key)
        if value is None or value[1] < time.monotonic():
            return None
        return value[0]

    def _set(self, key: str, value: int, ttl: float) -> None:
        self.values[key] = (value, time.monotonic() + ttl)

    def reserve(
        self, keys: list[str], amount: int, day_limit: int, conv_limit: int, day_start: int
    ) -> int:
        with self.lock:
            day = self._get(keys[0])
            day = day_start if day is None else day
            conv = self._get(keys[1]) or 0
            if day + amount > day_limit:
                return 1
            if conv + amount > conv_limit:
                return 2
            self._set(keys[0], day + amount, 172800)
            self._set(keys[1], conv + amount, 86400)
            return 0

    def settle(self, keys: list[str], delta: int) -> None:
        with self.lock:
            for key in keys:
                current = self.values.get(key)
                if current is not None:
                    self.values[key] = (current[0] + delta, current[1])

    def rate(self, keys: list[str], rpm: int, tpm: int, tokens: int) -> int:
        with self.lock:
            requests = self._get(keys[0]) or 0
            used = self._get(keys[1]) or 0
            if (rpm and requests + 1 > rpm) or (tpm and used + tokens > tpm and used > 0):
                expires = self.values[keys[0]][1] if keys[0] in self.values else time.monotonic()
                return max(1, int((expires - time.monotonic()) * 1000))
            self._set(keys[0], requests + 1, 61)
            self._set(keys[1], used + tokens, 61)
            return 0

    def fail(self, model_key: str) -> bool:
        with self.lock:
            if self._get(f"{model_key}:tripped"):
                self.values.pop(f"{model_key}:fails", None)
                self._set(f"{model_key}:open", 1, BREAKER_COOL_DOWN_S)
                return True
            fails = (self._get(f"{model_key}:fails") or 0) + 1
            if fails >= BREAKER_FAILURES and fails > (self._get(f"{model_key}:oks") or 0):
                self.values.pop(f"{model_key}:fails", None)
                self.values.pop(f"{model_key}:oks", None)
                self._set(f"{model_key}:open", 1, BREAKER_COOL_DOWN_S)
                return True
            ttl = (
                BREAKER_WINDOW_S
                if fails == 1
                else self.values[f"{model_key}:fails"][1] - time.monotonic()
            )
            self._set(f"{model_key}:fails", fails, ttl)
            return False

    def breaker_state(self, model_key: str) -> str:
        with self.lock:
            if self._get(f"{model_key}:open"):
                return "open"
            if self._get(f"{model_key}:tripped"):
                if self._get(f"{model_key}:probe"):
                    return "open"
                self._set(f"{model_key}:probe", 1, BREAKER_COOL_DOWN_S)
                return "half_open"
            return "closed"

    def succeed(self, model_key: str) -> None:
        with self.lock:
            for suffix in (":tripped", ":probe"):
                self.values.pop(model_key + suffix, None)
            # Successes count too: a provider trips only when most of its calls fail.
            key, now = f"{model_key}:oks", time.monotonic()
            held = self.values.get(key)
            if held is None or held[1] < now:
                self.values[key] = (1, now + BREAKER_WINDOW_S)
            else:
                self.values[key] = (held[0] + 1, held[1])

    def mark_tripped(self, model_key: str) -> None:
        with self.lock:
            self._set(f"{model_key}:tripped", 1, 86400)

    def release_probe(self, model_key: str) -> None:
        with self.lock:
            self.values.pop(f"{model_key}:probe", None)

    def get_int(self, key: str) -> int | None:
        with self.lock:
            return self._get(key)


_backend: _Backend | None = None
_backend_lock = threading.Lock()


def backend() -> Any:
    global _backend
    with _backend_lock:
        if _backend is None:
            url = settings.REDIS_URL
            _backend = _RedisBackend(url) if url else _LocalBackend()
        return _backend


def reset_backend() -> None:
    """Forget local state and connections (tests)."""
    global _backend
    with _backend_lock:
        _backend = None


def _day_key() -> str:
    from django.utils import timezone

    return f"budget:day:{timezone.localdate().isoformat()}"


def budget_reserve(
    *, conversation_id: int | None, amount: Decimal, spent_today: Callable[[], Decimal]
) -> Reservation:
    """Reserve ``amount`` (a call's worst case) against today's and the conversation's budget.

    ``spent_today`` seeds the day's counter from the ledger when Redis has none (Redis
    keeps nothing on disk here, and the ledger is the truth).
    """
    keys = [_day_key(), f"budget:conversation:{conversation_id or 0}"]
    store = backend()
    start = store.get_int(keys[0])
    day_start = to_nano(spent_today()) if start is None else start
    result = store.reserve(
        keys,
        to_nano(amount),
        to_nano(settings.DAILY_BUDGET_USD),
        to_nano(settings.CONVERSATION_BUDGET_USD),
        day_start,
    )
    if result == 1:
        raise BudgetExceeded("day")
    if result == 2:
        raise BudgetExceeded("conversation")
    return Reservation(keys[0], keys[1], to_nano(amount))


def budget_settle(reservation: Reservation, actual: Decimal) -> None:
    """Replace the reserved worst case by what the call really cost."""
    backend().settle(
        [reservation.day_key, reservation.conversation_key], to_nano(actual) - reservation.nano
    )


def budget_spent_today() -> Decimal | None:
    value = backend().get_int(_day_key())
    return None if value is None else from_nano(value)


def rate_take(*, provider: str, rpm: int | None, tpm: int | None, tokens: int) -> float:
    """0 if the call may go now, else seconds until the provider's window frees up."""
    if not rpm and not tpm:
        return 0.0
    minute = int(time.time() // 60)
    keys = [f"rate:{provider}:{minute}:requests", f"rate:{provider}:{minute}:tokens"]
    wait_ms = backend().rate(keys, rpm or 0, tpm or 0, tokens)
    return max(wait_ms, 0) / 1000


def breaker_allows(model_id: int) -> bool:
    return backend().breaker_state(f"breaker:{model_id}") != "open"


def breaker_failure(model_id: int) -> None:
    key = f"breaker:{model_id}"
    if backend().fail(key):
        backend().mark_tripped(key)
        backend().release_probe(key)


def breaker_success(model_id: int) -> None:
    backend().succeed(f"breaker:{model_id}")
