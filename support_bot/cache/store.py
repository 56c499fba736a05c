"""Where cached answers live: Redis, shared by every worker, or this process's memory on
the embedded default (no Redis). Both stores keep the same rules:

- an entry lives ``ttl`` seconds from when it was written (an answer goes stale even if
  it is popular); the store holds at most ``max_entries``: each insert first drops what
  has expired, then the least recently used entries over the limit;
- the first complete answer to a question wins: a second store of the same exact key
  keeps the first;
- every insertion and deletion is appended to a log (a Redis stream) that each worker's
  in-memory vector index follows (``sync``), so a question cached by one worker is found
  by all of them; a worker that fell behind the trimmed log, or saw a flush, rebuilds
  from the entries themselves;
- single-flight locks expire on their own, so a crashed worker holds nobody up for long.

Redis is reached with short socket timeouts; callers treat any connection error as a
cache miss (see ``services``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from support_bot.cache.index import VectorIndex

PREFIX = "anscache:"
LOG_MAXLEN = 50_000
SOCKET_TIMEOUT_S = 0.25
# Each insert evicts at most this many expired entries (the rest go on later inserts).
EXPIRED_PER_INSERT = 50
SYNC_BATCH = 2_000


@dataclass(frozen=True)
class Entry:
    entry_id: str
    partition: str
    exact_key: str
    scope: str
    intent: str
    question: str
    answer: str
    tier: int
    cost_usd: Decimal
    created_at: float
    expires_at: float
    vector: bytes
    conversation_id: int | None = None
    message_id: int | None = None

    def fields(self) -> dict[str, str | bytes]:
        return {
            "part": self.partition,
            "exact": self.exact_key,
            "scope": self.scope,
            "intent": self.intent,
            "question": self.question,
            "answer": self.answer,
            "tier": str(self.tier),
            "cost": str(self.cost_usd),
            "created": repr(self.created_at),
            "expires": repr(self.expires_at),
            "vec": self.vector,
            "conv": "" if self.conversation_id is None else str(self.conversation_id),
            "msg": "" if self.message_id is None else str(self.message_id),
        }

    @classmethod
    def of(cls, entry_id: str, raw: dict[bytes, bytes]) -> Entry:
        text = {k.decode(): v for k, v in raw.items()}

        def s(name: str) -> str:
            return text[name].decode()

        return cls(
            entry_id=entry_id,
            partition=s("part"),
            exact_key=s("exact"),
            scope=s("scope"),
            intent=s("intent"),
            question=s("question"),
            answer=s("answer"),
            tier=int(s("tier")),
            cost_usd=Decimal(s("cost")),
            created_at=float(s("created")),
            expires_at=float(s("expires")),
            vector=text["vec"],
            conversation_id=int(s("conv")) if s("conv") else None,
            message_id=int(s("msg")) if s("msg") else None,
        )

    @property
    def array(self) -> np.ndarray:
        return np.frombuffer(self.vector, dtype=np.float32)


def new_entry_id() -> str:
    return uuid.uuid4().hex


class Store:
    """The operations the cache needs from its storage."""

    index: VectorIndex

    def get_exact(self, exact_key: str) -> Entry | None:
        raise NotImplementedError

    def get(self, entry_id: str) -> Entry | None:
        raise NotImplementedError

    def touch(self, entry_id: str) -> None:
        raise NotImplementedError

    def put(self, entry: Entry, *, max_entries: int) -> str:
        """Store ``entry`` unless its exact key is taken; the id that holds the key."""
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError

    def flush(self, scope: str | None) -> int:
        raise NotImplementedError

    def lock(self, key: str, ttl_s: float, owner: str | None = None) -> str | None:
        """Take the single-flight lock: its token, or None when someone else holds it.

        An ``owner`` that already holds it gets it again: the same reply, redelivered
        after its worker died, must not wait for its own dead self.
        """
        raise NotImplementedError

    def locked(self, key: str) -> bool:
        raise NotImplementedError

    def unlock(self, key: str, token: str) -> None:
        raise NotImplementedError

    def count(self, name: str, amount: int = 1) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, int]:
        raise NotImplementedError

    def remember(self, conversation_id: int, entry_id: str) -> None:
        raise NotImplementedError

    def forget_conversation(self, conversation_id: int) -> int:
        raise NotImplementedError


# --- Redis --------------------------------------------------------------------------

_PUT = """
local p, id, now, maxn = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local exact, scope, part, maxlen = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local keep, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local held = redis.call('GET', p .. 'x:' .. exact)
if held and redis.call('EXISTS', p .. 'e:' .. held) == 1 then return held end
local fields = {}
for i = 11, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', p .. 'e:' .. id, unpack(fields))
redis.call('EXPIRE', p .. 'e:' .. id, keep)
redis.call('SET', p .. 'x:' .. exact, id, 'EX', keep)
redis.call('ZADD', p .. 'lru', now, id)
redis.call('ZADD', p .. 'exp', now + ttl, id)
redis.call('SADD', p .. 'scope:' .. scope, id)
redis.call('XADD', p .. 'log', 'MAXLEN', '~', maxlen, '*', 'op', 'add', 'id', id, 'part', part)
redis.call('HINCRBY', p .. 'stats', 'stores', 1)
local function drop(victim)
  local h = redis.call('HMGET', p .. 'e:' .. victim, 'exact', 'scope')
  if h[1] and redis.call('GET', p .. 'x:' .. h[1]) == victim then
    redis.call('DEL', p .. 'x:' .. h[1])
  end
  if h[2] then redis.call('SREM', p .. 'scope:' .. h[2], victim) end
  redis.call('DEL', p .. 'e:' .. victim)
  redis.call('ZREM', p .. 'lru', victim)
  redis.call('ZREM', p .. 'exp', victim)
  redis.call('XADD', p .. 'log', 'MAXLEN', '~', maxlen, '*', 'op', 'del', 'id', victim)
  redis.call('HINCRBY', p .. 'stats', 'evictions', 1)
end
for _, victim in ipairs(redis.call('ZRANGEBYSCORE', p .. 'exp', '-inf', now, 'LIMIT', 0, 50)) do
  drop(victim)
end
local over = redis.call('ZCARD', p .. 'lru') - maxn
if over > 0 then
  for _, victim in ipairs(redis.call('ZRANGE', p .. 'lru', 0, over - 1)) do drop(victim) end
end
return id
"""

_FLUSH_SCOPE = """
local p, maxlen = ARGV[1], ARGV[2]
local n = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local exact = redis.call('HGET', p .. 'e:' .. id, 'exact')
  if exact and redis.call('GET', p .. 'x:' .. exact) == id then redis.call('DEL', p .. 'x:' .. exact) end
  if redis.call('DEL', p .. 'e:' .. id) == 1 then n = n + 1 end
  redis.call('ZREM', p .. 'lru', id)
  redis.call('ZREM', p .. 'exp', id)
  redis.call('XADD', p .. 'log', 'MAXLEN', '~', maxlen, '*', 'op', 'del', 'id', id)
end
redis.call('DEL', KEYS[1])
return n
"""

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisStore(Store):
    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
            retry_on_timeout=False,
        )
        self._put = self.client.register_script(_PUT)
        self._flush_scope = self.client.register_script(_FLUSH_SCOPE)
        self._unlock = self.client.register_script(_UNLOCK)
        self.index = VectorIndex()
        self._sync_lock = threading.Lock()
        self._generation: bytes | None = None
        self._last_id = b"0-0"
        self._loaded = False

    def _entry(self, entry_id: str, raw: dict[bytes, bytes]) -> Entry | None:
        if not raw:
            return None
        entry = Entry.of(entry_id, raw)
        return entry if entry.expires_at > time.time() else None

    def get_exact(self, exact_key: str) -> Entry | None:
        held = self.client.get(PREFIX + "x:" + exact_key)
        return None if held is None else self.get(held.decode())

    def get(self, entry_id: str) -> Entry | None:
        return self._entry(entry_id, self.client.hgetall(PREFIX + "e:" + entry_id))

    def touch(self, entry_id: str) -> None:
        self.client.zadd(PREFIX + "lru", {entry_id: time.time()}, xx=True)

    def put(self, entry: Entry, *, max_entries: int) -> str:
        fields = entry.fields()
        flat: list[Any] = []
        for name in (
            "part", "exact", "scope", "intent", "question", "answer", "tier", "cost",
            "created", "expires", "vec", "conv", "msg",
        ):  # fmt: skip
            flat += [name, fields[name]]
        ttl = max(1, int(entry.expires_at - entry.created_at))
        args = [
            PREFIX,
            entry.entry_id,
            repr(entry.created_at),
            max_entries,
            entry.exact_key,
            entry.scope,
            entry.partition,
            LOG_MAXLEN,
            ttl + 3600,  # the hash outlives its expiry so that eviction can clean up
            ttl,
            *flat,
        ]
        held = self._put(keys=[], args=args)
        return held.decode() if isinstance(held, bytes) else str(held)

    def sync(self) -> None:
        with self._sync_lock:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(PREFIX + "gen")
            pipe.xrange(PREFIX + "log", count=1)
            pipe.xread({PREFIX + "log": self._last_id}, count=SYNC_BATCH)
            generation, first, fresh = pipe.execute()
            behind = bool(first) and self._last_id != b"0-0" and _older(self._last_id, first[0][0])
            if not self._loaded or generation != self._generation or behind:
                self._rebuild(generation)
                return
            for _, events in fresh or []:
                self._apply(events)

    def _apply(self, events: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        added = [
            (fields[b"id"].decode(), fields[b"part"].decode())
            for _, fields in events
            if fields[b"op"] == b"add"
        ]
        vectors = {}
        if added:
            pipe = self.client.pipeline(transaction=False)
            for entry_id, _ in added:
                pipe.hget(PREFIX + "e:" + entry_id, "vec")
            vectors = dict(zip([a[0] for a in added], pipe.execute(), strict=True))
        parts = dict(added)
        for _, fields in events:
            entry_id = fields[b"id"].decode()
            if fields[b"op"] == b"del":
                self.index.remove(entry_id)
            elif vectors.get(entry_id):
                self.index.add(
                    entry_id, parts[entry_id], np.frombuffer(vectors[entry_id], np.float32)
                )
        if events:
            self._last_id = events[-1][0]

    def _rebuild(self, generation: bytes | None) -> None:
        """Load every live entry, then replay the log written meanwhile."""
        newest = self.client.xrevrange(PREFIX + "log", count=1)
        self.index.clear()
        ids = [i.decode() for i in self.client.zrange(PREFIX + "lru", 0, -1)]
        for start in range(0, len(ids), 1000):
            batch = ids[start : start + 1000]
            pipe = self.client.pipeline(transaction=False)
            for entry_id in batch:
                pipe.hmget(PREFIX + "e:" + entry_id, "part", "vec")
            for entry_id, (part, vec) in zip(batch, pipe.execute(), strict=True):
                if part and vec:
                    self.index.add(entry_id, part.decode(), np.frombuffer(vec, np.float32))
        self._generation = generation
        self._loaded = True
        self._last_id = newest[0][0] if newest else b"0-0"
        while True:
            fresh = self.client.xread({PREFIX + "log": self._last_id}, count=SYNC_BATCH)
            if not fresh or not fresh[0][1]:
                return
            self._apply(fresh[0][1])

    def flush(self, scope: str | None) -> int:
        if scope is not None:
            removed = self._flush_scope(keys=[PREFIX + "scope:" + scope], args=[PREFIX, LOG_MAXLEN])
            return int(removed)
        removed = int(self.client.zcard(PREFIX + "lru"))
        keys = [k for k in self.client.scan_iter(match=PREFIX + "*", count=1000)]
        keep = {(PREFIX + "gen").encode(), (PREFIX + "stats").encode()}
        doomed = [k for k in keys if k not in keep and not k.startswith(b"anscache:sf:")]
        for start in range(0, len(doomed), 500):
            self.client.delete(*doomed[start : start + 500])
        # Every worker sees the new generation on its next lookup and starts afresh.
        self.client.incr(PREFIX + "gen")
        return removed

    def lock(self, key: str, ttl_s: float, owner: str | None = None) -> str | None:
        token = owner or uuid.uuid4().hex
        name = PREFIX + "sf:" + key
        if self.client.set(name, token, nx=True, px=int(ttl_s * 1000)):
            return token
        if owner is not None and self.client.get(name) == owner.encode():
            self.client.pexpire(name, int(ttl_s * 1000))
            return token
        return None

    def locked(self, key: str) -> bool:
        return bool(self.client.exists(PREFIX + "sf:" + key))

    def unlock(self, key: str, token: str) -> None:
        self._unlock(keys=[PREFIX + "sf:" + key], args=[token])

    def count(self, name: str, amount: int = 1) -> None:
        self.client.hincrby(PREFIX + "stats", name, amount)

    def stats(self) -> dict[str, int]:
        raw = self.client.hgetall(PREFIX + "stats")
        counts = {k.decode(): int(v) for k, v in raw.items()}
        counts["entries"] = int(self.client.zcard(PREFIX + "lru"))
        counts["shared_entries"] = int(self.client.scard(PREFIX + "scope:shared"))
        return counts

    def remember(self, conversation_id: int, entry_id: str) -> None:
        key = f"{PREFIX}conv:{conversation_id}"
        pipe = self.client.pipeline(transaction=False)
        pipe.sadd(key, entry_id)
        pipe.expire(key, 86400)
        pipe.execute()

    def forget_conversation(self, conversation_id: int) -> int:
        key = f"{PREFIX}conv:{conversation_id}"
        ids = [i.decode() for i in self.client.smembers(key)]
        self.client.delete(key)
        removed = 0
        for entry_id in ids:
            entry = self.get(entry_id)
            if entry is not None:
                removed += self._drop(entry)
        return removed

    def _drop(self, entry: Entry) -> int:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(PREFIX + "e:" + entry.entry_id)
        pipe.zrem(PREFIX + "lru", entry.entry_id)
        pipe.zrem(PREFIX + "exp", entry.entry_id)
        pipe.srem(PREFIX + "scope:" + entry.scope, entry.entry_id)
        pipe.xadd(
            PREFIX + "log", {"op": "del", "id": entry.entry_id}, maxlen=LOG_MAXLEN, approximate=True
        )
        deleted = pipe.execute()[0]
        held = self.client.get(PREFIX + "x:" + entry.exact_key)
        if held is not None and held.decode() == entry.entry_id:
            self.client.delete(PREFIX + "x:" + entry.exact_key)
        return int(deleted)


def _older(ours: bytes, first: bytes) -> bool:
    """Whether stream id ``ours`` is before ``first`` (we may have missed trimmed events)."""

    def parts(stream_id: bytes) -> tuple[int, int]:
        ms, _, seq = stream_id.partition(b"-")
        return int(ms), int(seq or 0)

    return parts(ours) < parts(first)


# --- this process only (the embedded default) ---------------------------------------


class LocalStore(Store):
    """The same rules in one process's memory; the index is fed directly."""

    def __init__(self) -> None:
        self.index = VectorIndex()
        self._lock = threading.RLock()
        self._entries: dict[str, Entry] = {}
        self._exact: dict[str, str] = {}
        self._lru: OrderedDict[str, float] = OrderedDict()
        self._locks: dict[str, tuple[str, float]] = {}
        self._stats: Counter[str] = Counter()
        self._conversations: dict[int, set[str]] = {}

    def get_exact(self, exact_key: str) -> Entry | None:
        with self._lock:
            held = self._exact.get(exact_key)
            return None if held is None else self.get(held)

    def get(self, entry_id: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(entry_id)
            return entry if entry is not None and entry.expires_at > time.time() else None

    def touch(self, entry_id: str) -> None:
        with self._lock:
            if entry_id in self._lru:
                self._lru[entry_id] = time.time()
                self._lru.move_to_end(entry_id)

    def put(self, entry: Entry, *, max_entries: int) -> str:
        with self._lock:
            held = self._exact.get(entry.exact_key)
            if held is not None and self.get(held) is not None:
                return held
            self._entries[entry.entry_id] = entry
            self._exact[entry.exact_key] = entry.entry_id
            self._lru[entry.entry_id] = entry.created_at
            self.index.add(entry.entry_id, entry.partition, entry.array)
            self._stats["stores"] += 1
            now = time.time()
            expired = [e.entry_id for e in self._entries.values() if e.expires_at <= now]
            for victim in expired[:EXPIRED_PER_INSERT]:
                self._drop(victim)
            while len(self._lru) > max_entries:
                self._drop(next(iter(self._lru)))
            return entry.entry_id

    def _drop(self, entry_id: str, *, eviction: bool = True) -> None:
        entry = self._entries.pop(entry_id, None)
        self._lru.pop(entry_id, None)
        self.index.remove(entry_id)
        if entry is not None and self._exact.get(entry.exact_key) == entry_id:
            del self._exact[entry.exact_key]
        if eviction and entry is not None:
            self._stats["evictions"] += 1

    def sync(self) -> None:
        return

    def flush(self, scope: str | None) -> int:
        with self._lock:
            doomed = [e.entry_id for e in self._entries.values() if scope in (None, e.scope)]
            for entry_id in doomed:
                self._drop(entry_id, eviction=False)
            return len(doomed)

    def lock(self, key: str, ttl_s: float, owner: str | None = None) -> str | None:
        with self._lock:
            held = self._locks.get(key)
            if held is not None and held[1] > time.monotonic() and held[0] != owner:
                return None
            token = owner or uuid.uuid4().hex
            self._locks[key] = (token, time.monotonic() + ttl_s)
            return token

    def locked(self, key: str) -> bool:
        with self._lock:
            held = self._locks.get(key)
            return held is not None and held[1] > time.monotonic()

    def unlock(self, key: str, token: str) -> None:
        with self._lock:
            if self._locks.get(key, ("",))[0] == token:
                del self._locks[key]

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._stats[name] += amount

    def stats(self) -> dict[str, int]:
        with self._lock:
            shared = sum(1 for e in self._entries.values() if e.scope == "shared")
            return {**self._stats, "entries": len(self._entries), "shared_entries": shared}

    def remember(self, conversation_id: int, entry_id: str) -> None:
        with self._lock:
            self._conversations.setdefault(conversation_id, set()).add(entry_id)

    def forget_conversation(self, conversation_id: int) -> int:
        with self._lock:
            ids = self._conversations.pop(conversation_id, set())
            present = [i for i in ids if i in self._entries]
            for entry_id in present:
                self._drop(entry_id, eviction=False)
            return len(present)
