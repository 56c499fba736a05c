"""Load-test the real chat topology with simulated shoppers over websockets.

    python bench/load.py [--shoppers 50] [--workers 1] [--pool threads] [--concurrency 16]
                         [--duration 60] [--think-ms 2000] [--provider-ttft-ms 300]
                         [--provider-tokens-per-s 200] [--reply-tokens 40]
                         [--also-zero-latency] [--sweep 10,50,200] [--mix tier0=40,...]
                         [--json] [--keep] [--attach ws://host:port] [--profile DIR]

It starts everything a production deploy runs, on this machine: PostgreSQL (a database of
its own, ``support_bot_bench_load`` or ``$BENCH_DATABASE``, created, migrated and seeded
with the demo shop, and dropped at the end unless ``--keep``), Redis (its own DB number, 11 by default, flushed
before and after; or ``--private-redis`` for a redis-server of its own), the fake
OpenAI-compatible provider (``routing.fake_provider``) with the given time to first token
and tokens per second, K Celery worker processes and the ASGI server (uvicorn). With no API
keys in the environment the local model is the only usable one and serves every tier;
``LOCAL_MODEL_URL`` points it at the fake, so every LLM call hits the fake.

Then N shoppers, one asyncio task each, talk to ``/ws/chat/`` as docs/protocol.md says:
connect, ``hello`` with a signed customer token (each shopper its own demo customer), then
``--messages-per-conversation`` messages drawn from ``--mix`` (order status and tracking,
answered at tier 0; policy questions; product questions; one FAQ asked by everybody), each
time waiting for the reply's ``done`` (or an ``error``), then thinking for ``--think-ms``
(uniformly 0.5-1.5 times it; 0 is a closed loop), then the next message; after the last
one the shopper leaves and comes back with a new conversation. Questions get a greeting,
the shopper's first name or thanks around them, so that (as with real shoppers) most
texts are new to the worker's embedding cache; ``--exact-texts`` turns that off. The
per-connection and per-address limits (``CHAT_RATE_*``, ``CHAT_IP_*``) are lifted for the
server: the bench's shoppers type faster than people do, and all come from one address, on
purpose.

Figures exclude a warm-up (``--warmup-s``, and until every shopper has had one reply):

- added time to first token: shopper-observed send -> first ``delta`` minus the provider's
  configured TTFT (LLM replies); added time to ``done`` minus TTFT + (T - 1) / rate, which
  is when the fake sends its last token. Tier-0 answers and cache hits have no provider:
  their shopper-observed times are reported as they are.
- messages per second; CPU seconds per message of each process kind (from
  /proc/<pid>/stat of the processes started here and their children, the bench
  database's PostgreSQL backends, redis-server); PostgreSQL transactions and Redis
  commands per message.
- where a reply's time went, from the server's own timestamps on the reply row (created,
  claimed by a worker, first token, finished; same clock as the shoppers').
- errors, lost messages (no ``done`` within ``--reply-timeout-s``) and duplicated replies
  (a second ``done``, or a repeated ``seq``): each must be 0. The exit status is 1 when
  one is not, and the processes' logs are then kept.

``--also-zero-latency`` adds a second phase with a zero-latency provider, closed loop
(``--zero-latency-think-ms``, default 0): the stack's own ceiling. ``--floor`` runs the
workers with ``bench/floor_worker.py``: a reply is only claimed, streamed from the
provider and finished, so the figures are what the topology costs without our reply
code. ``--sweep 10,50,200`` runs each phase for several shopper counts and prints them
side by side. ``--json`` ends
the output with one line of JSON. ``--timeout`` bounds the whole run; every process started
here is stopped (its whole process group) on the way out, Ctrl-C and errors included.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from support_bot.processes import asgi_command, free_port, wait_for_port  # noqa: E402

# Two people benchmarking on one server each name their own (BENCH_DATABASE).
DATABASE = os.environ.get("BENCH_DATABASE") or "support_bot_bench_load"
MARK = "scratch database of bench/load.py; dropped when it ends"
PYTHON = sys.executable
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Phrasings checked against the default intent catalogue: each routes where its category
# says, confidently (two low-confidence messages in a row hand the conversation to a
# person), and no two are similar enough (>= 0.9) to count as the shopper repeating
# themselves, which would escalate too.
MESSAGES: dict[str, list[str]] = {
    "tier0": [
        "Where is my order?",
        "What is the status of my order?",
        "Has my order shipped yet?",
        "What is my tracking number?",
        "How can I track my parcel?",
        "When will my order arrive?",
        "What's the estimated delivery date of my order?",
        "Where is my refund?",
        "Has my refund been paid?",
        "Can I still return my last order?",
        "Which carrier is delivering my order?",
    ],
    "policy": [
        "What is your return policy?",
        "How much does shipping cost?",
        "Do you ship to Canada?",
        "Can I pay with PayPal?",
        "Is there a fee if I cancel my order?",
        "What does the warranty cover?",
        "Do you offer free shipping?",
        "Do I have to pay for return shipping?",
        "What are your opening hours?",
    ],
    "product": [
        "Is the Packable Rain Jacket waterproof?",
        "What size should I order in the Waterproof Hiking Boot?",
        "Does the Merino Crew T-Shirt run small?",
        "Can you recommend a warm sleeping bag for camping?",
        "What is the difference between the Trail Runner and the Approach Shoe?",
        "Does the Fleece Quarter-Zip come in other colours?",
        "Can you recommend a jacket for winter hiking?",
    ],
    # The same question from every shopper: what an answer cache would serve.
    "faq": ["How long does delivery take?"],
    # Off by default: these hand the conversation to a person, so get no bot reply.
    "human": ["I want to talk to a human", "Can I speak to a real person please"],
}
DEFAULT_MIX = "tier0=40,policy=30,product=20,faq=10"
# Real shoppers rarely type the same sentence twice: greetings, names and thanks make most
# messages new to the embedding cache (an LRU of exact texts), as in production. The FAQ
# category is left exactly as it is, on purpose.
_OPENINGS = ["", "Hi, ", "Hello, ", "Hi there, ", "Good morning, ", "Hey, ", "Quick question: "]
_NAMED = ["Hi, this is {name}. ", "Hello, {name} here. ", "Hi, it's {name}. "]
_CLOSINGS = ["", " Thanks.", " Thank you!", " Thanks a lot.", " Cheers.", " Many thanks."]


def vary(text: str, rng: random.Random, name: str | None) -> str:
    openings = _OPENINGS + ([o.format(name=name) for o in _NAMED] if name else [])
    opening = rng.choice(openings)
    body = text[0].lower() + text[1:] if opening.endswith(", ") or opening.endswith(": ") else text
    return f"{opening}{body}{rng.choice(_CLOSINGS)}"


PROVIDER_KEY_VARIABLES = re.compile(r".*_API_KEY$")


def main() -> None:
    args = _parse_args()
    deadline = time.monotonic() + args.timeout
    run = BenchRun(args)
    watchdog = threading.Thread(target=_watchdog, args=(run, deadline), daemon=True)
    watchdog.start()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        results = run.execute()
        # Logs of a run with errors, losses or duplicates are kept for a look.
        run.failed = any(
            phase["errors"] or phase["lost"] or phase["duplicated"]
            for result in results
            for phase in result["phases"]
        )
    except KeyboardInterrupt:
        run.failed = True
        print("\ninterrupted; stopping everything this run started", file=sys.stderr)
        sys.exit(130)
    except BaseException:
        run.failed = True
        raise
    finally:
        run.cleanup()
    report(results, args)
    sys.exit(1 if run.failed else 0)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _watchdog(run: BenchRun, deadline: float) -> None:
    while time.monotonic() < deadline:
        time.sleep(1)
    print(f"\nhard timeout ({run.args.timeout:.0f} s) reached; cleaning up", file=sys.stderr)
    run.cleanup()
    os._exit(3)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    load = parser.add_argument_group("load")
    load.add_argument("--shoppers", type=int, default=50, help="concurrent shoppers (N)")
    load.add_argument("--sweep", help="comma-separated shopper counts, run one after another")
    load.add_argument("--duration", type=float, default=60, help="measured seconds per phase")
    load.add_argument("--think-ms", type=float, default=2000, help="pause after each done")
    load.add_argument("--warmup-s", type=float, default=5, help="at least this warm-up")
    load.add_argument(
        "--warmup-max-s", type=float, default=60, help="stop waiting for every shopper's reply"
    )
    load.add_argument("--mix", default=DEFAULT_MIX, help=f"category=weight,... ({DEFAULT_MIX})")
    load.add_argument("--messages-per-conversation", type=int, default=5)
    load.add_argument(
        "--exact-texts",
        action="store_true",
        help="no greetings, names or thanks around the questions (every text then repeats, "
        "so the embedding cache answers almost all of them)",
    )
    load.add_argument("--reply-timeout-s", type=float, default=30, help="after this: lost")
    load.add_argument("--ramp-s", type=float, default=2, help="spread the shoppers' arrival")
    load.add_argument("--no-compression", action="store_true", help="no permessage-deflate")
    load.add_argument("--seed", type=int, default=7)
    provider = parser.add_argument_group("provider (the fake)")
    provider.add_argument("--provider-ttft-ms", type=float, default=300)
    provider.add_argument("--provider-tokens-per-s", type=float, default=200)
    provider.add_argument("--reply-tokens", type=int, default=40)
    provider.add_argument(
        "--also-zero-latency",
        action="store_true",
        help="a second phase with a zero-latency provider (the stack's ceiling)",
    )
    provider.add_argument("--zero-latency-think-ms", type=float, default=0)
    parser.add_argument(
        "--written-answers",
        action="store_true",
        help="keep the demo shop's written answers (by default the shop has written none, "
        "as a new install; policy questions then go to the model or the answer cache)",
    )
    provider.add_argument(
        "--floor",
        action="store_true",
        help="workers only claim, stream the provider's tokens and finish (bench/floor_worker.py):"
        " what the topology costs by itself",
    )
    topology = parser.add_argument_group("topology")
    topology.add_argument("--workers", type=int, default=1, help="Celery worker processes (K)")
    topology.add_argument("--pool", choices=["threads", "prefork"], default="threads")
    topology.add_argument("--concurrency", type=int, default=16, help="per worker process")
    topology.add_argument("--asgi-workers", type=int, default=1, help="uvicorn --workers")
    topology.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="any database on the server; the bench creates and drops its own beside it",
    )
    topology.add_argument("--redis", default="redis://127.0.0.1:6379", help="server to use")
    topology.add_argument("--redis-db", type=int, default=11)
    topology.add_argument(
        "--private-redis", action="store_true", help="start a redis-server of its own"
    )
    topology.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the server and workers (e.g. DATABASE_CONN_MAX_AGE=0)",
    )
    topology.add_argument("--keep", action="store_true", help="leave the database afterwards")
    topology.add_argument(
        "--reuse-db",
        action="store_true",
        help="use a database kept by --keep (migrated, not seeded)",
    )
    attach = parser.add_argument_group("attach to a running deploy instead")
    attach.add_argument("--attach", metavar="ws://host:port")
    attach.add_argument("--database-url", help="attach: read customers and the ledger here")
    attach.add_argument("--customers", help="attach: comma-separated external ids")
    attach.add_argument("--shop-token-secret", default=os.environ.get("SHOP_TOKEN_SECRET"))
    attach.add_argument(
        "--provider-control", help="attach: the fake provider's base URL, to set its speed"
    )
    attach.add_argument(
        "--attach-pids", default="", help="attach: kind=pid,... to measure (asgi=1,workers=2)"
    )
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="a final line of JSON")
    output.add_argument("--profile", metavar="DIR", help="py-spy the server and workers")
    output.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    output.add_argument(
        "--py-spy-args", default="", help="extra py-spy record arguments, e.g. '--gil' or '--idle'"
    )
    output.add_argument("--logs", metavar="DIR", help="keep the processes' logs here")
    output.add_argument(
        "--gc-pauses",
        action="store_true",
        help="log the server's and workers' garbage collections (bench/gc_pauses)",
    )
    output.add_argument(
        "--samples", metavar="FILE", help="append every message's timings (JSON lines)"
    )
    output.add_argument("--timeout", type=float, help="hard limit for the whole run, seconds")
    args = parser.parse_args()
    args.mix_weights = _parse_mix(args.mix)
    args.shopper_counts = (
        [int(n) for n in args.sweep.split(",") if n.strip()] if args.sweep else [args.shoppers]
    )
    if args.timeout is None:
        phases = len(args.shopper_counts) * (2 if args.also_zero_latency else 1)
        per_phase = args.warmup_max_s + args.duration + args.reply_timeout_s + 30
        args.timeout = 300 + phases * per_phase
    if args.attach and not (args.customers or args.database_url):
        parser.error("--attach needs --customers or --database-url")
    if args.attach and not args.shop_token_secret:
        parser.error("--attach needs --shop-token-secret (or $SHOP_TOKEN_SECRET)")
    return args


def _parse_mix(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in MESSAGES:
            sys.exit(f"--mix: unknown category {name!r} (known: {', '.join(MESSAGES)})")
        weights[name] = float(weight or 1)
    if not any(weights.values()):
        sys.exit("--mix: every weight is 0")
    return weights


# --- processes -------------------------------------------------------------------------


@dataclass
class Started:
    kind: str  # asgi, workers, provider, redis
    process: subprocess.Popen[bytes]
    log: Path


class Processes:
    """Everything started here, each in a process group of its own, stopped as a group."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Started] = []
        self._lock = threading.Lock()

    def start(
        self, kind: str, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> Started:
        log = self.log_dir / f"{name}.log"
        with self._lock:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            started = Started(kind, process, log)
            self.started.append(started)
        return started

    def stop_all(self) -> None:
        with self._lock:
            running = [s for s in reversed(self.started) if s.process.poll() is None]
            for started in running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.process.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            for started in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    started.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            for started in self.started:
                # The group may outlive its leader (prefork children, uvicorn workers).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(started.process.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    started.process.wait(timeout=5)
            self.started.clear()

    def roots(self, kind: str) -> list[int]:
        return [s.process.pid for s in self.started if s.kind == kind]


# --- the database ----------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _ours(cursor: Any) -> bool | None:
    cursor.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        [DATABASE],
    )
    found = cursor.fetchone()
    return None if found is None else found[0] == MARK


def database_create(server: str, *, reuse: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it still needs migrating and seeding."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn, conn.cursor() as cursor:
        ours = _ours(cursor)
        if ours is False:
            sys.exit(f"{DATABASE} exists and was not made by this script: not touching it.")
        name = sql.Identifier(DATABASE)
        if ours and reuse:
            return _with_database(server, DATABASE), False
        if ours:
            print(f"dropping the {DATABASE} left by an earlier run", file=sys.stderr)
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(name))
        cursor.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(name, sql.Literal(MARK)))
    return _with_database(server, DATABASE), True


def database_drop(server: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn, conn.cursor() as cursor:
        if _ours(cursor):
            cursor.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DATABASE))
            )


def customers_with_orders(database_url: str) -> list[tuple[str, str]]:
    """(external id, first name) of every customer who has ordered."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT c.external_id, c.name FROM orders_customer c "
            "WHERE EXISTS (SELECT 1 FROM orders_order o WHERE o.customer_id = c.id) "
            "ORDER BY c.id"
        ).fetchall()
    return [(row[0], (row[1] or "").split(" ")[0]) for row in rows]


def reply_kinds(database_url: str, reply_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What answered each reply, from the ledger: tier0, cache_hit or an LLM call."""
    import psycopg

    if not reply_ids:
        return {}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT message_id, outcome, tier, ttft_ms, total_ms FROM routing_llmcall "
            "WHERE message_id = ANY(%s) ORDER BY id",
            [list(reply_ids)],
        ).fetchall()
    kinds: dict[int, dict[str, Any]] = {}
    for message_id, outcome, tier, ttft_ms, total_ms in rows:
        # The last row of a reply is the attempt that answered it.
        kinds[message_id] = {
            "outcome": outcome,
            "tier": tier,
            "ttft_ms": ttft_ms,
            "total_ms": total_ms,
        }
    return kinds


def reply_timestamps(database_url: str, reply_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    """When the server created, claimed, first streamed and finished each reply (epoch s)."""
    import psycopg

    if not reply_ids:
        return {}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, created_at, started_at, first_token_at, finished_at "
            "FROM support_bot_message WHERE id = ANY(%s)",
            [list(reply_ids)],
        ).fetchall()
    names = ("created", "started", "first_token", "finished")
    return {
        row[0]: {
            name: value.timestamp() for name, value in zip(names, row[1:], strict=True) if value
        }
        for row in rows
    }


def lost_replies(database_url: str, samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """What the database says of each lost message's reply: was it queued, claimed, begun?"""
    import psycopg

    lost = [s for s in samples if s.outcome == "lost"]
    if not lost:
        return []
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT reply_to_id, id, status, attempts, error_code, "
            "EXTRACT(EPOCH FROM now() - created_at), EXTRACT(EPOCH FROM started_at - created_at), "
            "EXTRACT(EPOCH FROM finished_at - created_at) "
            "FROM support_bot_message WHERE role = 'bot' AND reply_to_id = ANY(%s)",
            [[s.message_id for s in lost if s.message_id is not None]],
        ).fetchall()
    replies = {row[0]: row[1:] for row in rows}
    details = []
    for sample in lost:
        detail: dict[str, Any] = {
            "shopper": sample.shopper,
            "category": sample.category,
            "acked": sample.t_ack is not None,
            "deltas": sample.deltas,
            "message_id": sample.message_id,
        }
        row = replies.get(sample.message_id)
        if row is not None:
            reply_id, status, attempts, error_code, age, claimed, finished = row
            detail.update(
                reply_id=reply_id,
                status=status,
                attempts=attempts,
                error_code=error_code,
                age_s=round(float(age), 1),
                claimed_after_s=None if claimed is None else round(float(claimed), 2),
                finished_after_s=None if finished is None else round(float(finished), 2),
            )
        details.append(detail)
    return details


def pg_database_stats(database_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        # Backends report at most once a second; force this one's and read fresh numbers.
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, "
            "tup_updated, tup_deleted, numbackends FROM pg_stat_database WHERE datname = %s",
            [DATABASE],
        ).fetchone()
    names = ["xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted"]
    names += ["tup_updated", "tup_deleted", "numbackends"]
    return dict(zip(names, row or [0] * len(names), strict=True))


# --- CPU accounting --------------------------------------------------------------------

PG_AUX = re.compile(
    r"postgres: .*(checkpointer|background writer|walwriter|autovacuum|logical replication|"
    r"stats collector|archiver|startup|walsender)"
)


def _proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid -> (ppid, comm, utime + stime in ticks, start time) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                raw = handle.read().decode("latin-1")
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        # Fields after comm, 0-based: 1 ppid, 11 utime, 12 stime, 19 starttime.
        table[int(entry.name)] = (int(rest[1]), comm, int(rest[11]) + int(rest[12]), int(rest[19]))
    return table


def machine_busy_ticks() -> int:
    """Every core's busy time since boot, from /proc/stat (user to steal, less idle/iowait)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]


def rss_mb_by_kind(kinds: dict[int, str]) -> dict[str, float]:
    """Resident memory of each process kind now, in MB."""
    sizes: dict[str, float] = defaultdict(float)
    for pid, kind in kinds.items():
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    sizes[kind] += int(line.split()[1]) / 1024
    return {kind: round(size) for kind, size in sizes.items() if "shared" not in kind}


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("latin-1")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds per process kind between two marks, dead processes included.

    A sampling thread remembers every process's last CPU time, so a PostgreSQL backend or
    a pool child that exits between two marks still counts (up to one sample interval).
    """

    def __init__(self, kinds: Callable[[dict[int, tuple[int, str, int, int]]], dict[int, str]]):
        self._kinds = kinds
        self._seen: dict[tuple[int, int], tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            with contextlib.suppress(Exception):
                self.sample()

    def sample(self) -> dict[tuple[int, int], tuple[str, int]]:
        table = _proc_table()
        kinds = self._kinds(table)
        with self._lock:
            for pid, kind in kinds.items():
                _, _, ticks, started = table[pid]
                self._seen[(pid, started)] = (kind, ticks)
            return dict(self._seen)

    @staticmethod
    def between(
        before: dict[tuple[int, int], tuple[str, int]],
        after: dict[tuple[int, int], tuple[str, int]],
    ) -> dict[str, float]:
        seconds: dict[str, float] = defaultdict(float)
        for key, (kind, ticks) in after.items():
            earlier = before.get(key, (kind, 0))[1]
            seconds[kind] += (ticks - earlier) / CLOCK_TICKS
        return dict(seconds)


def _descendants(table: dict[int, tuple[int, str, int, int]], roots: Sequence[int]) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _, _) in table.items():
        children[ppid].append(pid)
    found: set[int] = set()
    stack = [root for root in roots if root in table]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return found


# --- shoppers --------------------------------------------------------------------------


@dataclass
class Sample:
    shopper: int
    category: str
    t_send: float
    t_ack: float | None = None
    t_first: float | None = None
    t_done: float | None = None
    reply_id: int | None = None
    message_id: int | None = None  # the shopper message, from the ack
    outcome: str = "pending"  # done, error:<code>, lost, handed_off
    deltas: int = 0
    resets: int = 0
    text: str = ""


@dataclass
class PhaseState:
    url: str
    origin: str
    tokens: list[str]
    names: list[str | None]
    vary_texts: bool
    shoppers: int
    think_s: float
    mix: dict[str, float]
    messages_per_conversation: int
    reply_timeout_s: float
    ramp_s: float
    compression: bool
    seed: int
    samples: list[Sample] = field(default_factory=list)
    answered: set[int] = field(default_factory=set)
    hello_ms: list[tuple[float, float]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    duplicated: Counter[str] = field(default_factory=Counter)
    stray_frames: int = 0
    stop_sending: bool = False
    all_answered_at: float | None = None

    def record_answer(self, shopper: int) -> None:
        self.answered.add(shopper)
        if self.all_answered_at is None and len(self.answered) == self.shoppers:
            self.all_answered_at = time.perf_counter()


class Shopper:
    def __init__(self, index: int, state: PhaseState) -> None:
        self.index = index
        self.state = state
        self.rng = random.Random(state.seed * 100_003 + index)
        self.token = state.tokens[index % len(state.tokens)]
        self.name = state.names[index % len(state.names)]
        self.done_ids: set[int] = set()
        self.seqs: dict[object, set[object]] = defaultdict(set)
        self.current: Sample | None = None
        self.client_id = ""
        self.held = False
        self.first_conversation = True
        self._ws: Any = None

    async def run(self) -> None:
        from websockets.asyncio.client import connect

        state = self.state
        await asyncio.sleep(self.rng.uniform(0, state.ramp_s))
        while not state.stop_sending:
            self.held = False
            try:
                async with connect(
                    state.url,
                    origin=state.origin,  # type: ignore[arg-type]
                    compression="deflate" if state.compression else None,
                    proxy=None,
                    open_timeout=30,
                    ping_interval=None,
                    max_queue=None,
                ) as ws:
                    self._ws = ws
                    await self._conversation(ws)
            except (OSError, TimeoutError) as error:
                state.errors[f"connect:{type(error).__name__}"] += 1
                await asyncio.sleep(1)
            except Exception as error:  # websockets' ConnectionClosed and friends
                if self.current is not None and self.current.outcome == "pending":
                    self.current.outcome = "lost"
                name = f"connection:{type(error).__name__}"
                state.errors[name] += 1
                if state.errors[name] <= 3:
                    print(f"shopper {self.index}: {error!r}", file=sys.stderr)
                await asyncio.sleep(0.5)

    async def _conversation(self, ws: Any) -> None:
        state = self.state
        started = time.perf_counter()
        hello = {"type": "hello", "conversation": None, "customer_token": self.token}
        await ws.send(json.dumps({**hello, "language": "en"}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), state.reply_timeout_s))
            if frame.get("type") == "welcome":
                break
            self._handle(frame, time.perf_counter())
        state.hello_ms.append((started, (time.perf_counter() - started) * 1000))
        if self.first_conversation:
            # Shoppers arrive spread over a think time, not all at once.
            self.first_conversation = False
            await self._listen(self.rng.uniform(0, state.think_s))
        used: set[str] = set()
        for _ in range(state.messages_per_conversation):
            if state.stop_sending or self.held:
                return
            category, text = self._pick(used)
            await self._ask(ws, category, text)
            if self.held or (self.current and self.current.outcome == "lost"):
                return
            await self._listen(self.rng.uniform(0.5, 1.5) * state.think_s if state.think_s else 0)
        self.current = None

    def _pick(self, used: set[str]) -> tuple[str, str]:
        weights = dict(self.state.mix)
        while True:
            category = self.rng.choices(list(weights), list(weights.values()))[0]
            fresh = [t for t in MESSAGES[category] if t not in used]
            if fresh:
                text = self.rng.choice(fresh)
                used.add(text)
                if self.state.vary_texts and category != "faq":
                    # Product questions stay nameless: they sit closest to low confidence.
                    text = vary(text, self.rng, None if category == "product" else self.name)
                return category, text
            weights[category] = 0
            if not any(weights.values()):
                used.clear()
                weights = dict(self.state.mix)

    async def _ask(self, ws: Any, category: str, text: str) -> None:
        state = self.state
        self.client_id = str(uuid.uuid4())
        frame = json.dumps({"type": "message", "text": text, "client_id": self.client_id})
        sample = Sample(shopper=self.index, category=category, t_send=time.perf_counter())
        self.current = sample
        state.samples.append(sample)
        await ws.send(frame)
        deadline = sample.t_send + state.reply_timeout_s
        try:
            while sample.outcome == "pending":
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise TimeoutError
                async with asyncio.timeout(remaining):
                    raw = await ws.recv()
                self._handle(json.loads(raw), time.perf_counter())
        except TimeoutError:
            sample.outcome = "lost"

    async def _listen(self, seconds: float) -> None:
        """Think, while still reading frames (late duplicates show up here)."""
        if seconds <= 0:
            return
        ws = self._ws
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    self._handle(json.loads(await ws.recv()), time.perf_counter())

    def _handle(self, frame: dict[str, Any], now: float) -> None:
        kind = frame.get("type")
        sample = self.current if self.current and self.current.outcome == "pending" else None
        if kind == "ack":
            if sample is not None and frame.get("client_id") == self.client_id:
                sample.t_ack = now
                message_id = frame.get("message_id")
                sample.message_id = message_id if isinstance(message_id, int) else None
        elif kind in ("delta", "done"):
            reply_id = frame.get("message_id")
            if isinstance(reply_id, int):
                self._reply_frame(frame, reply_id, sample, now)
        elif kind == "reset":
            self.seqs.pop(frame.get("message_id"), None)
            if sample is not None:
                sample.resets += 1
        elif kind == "error":
            code = str(frame.get("code"))
            self.state.errors[code] += 1
            mine = frame.get("client_id") == self.client_id or code == "reply_failed"
            if sample is not None and mine:
                sample.outcome = f"error:{code}"
                sample.t_done = now
        elif kind == "state" and frame.get("state") in ("waiting", "agent"):
            self.held = True
            if sample is not None:
                sample.outcome = "handed_off"
                sample.t_done = now

    def _reply_frame(
        self, frame: dict[str, Any], reply_id: int, sample: Sample | None, now: float
    ) -> None:
        state = self.state
        if reply_id in self.done_ids:
            state.duplicated["second_done" if frame["type"] == "done" else "delta_after_done"] += 1
            return
        if sample is None or sample.reply_id not in (None, reply_id):
            state.stray_frames += 1
            return
        sample.reply_id = reply_id
        if frame["type"] == "delta":
            seq = frame.get("seq")
            if seq in self.seqs[reply_id]:
                state.duplicated["repeated_seq"] += 1
                return
            self.seqs[reply_id].add(seq)
            sample.deltas += 1
            if sample.t_first is None:
                sample.t_first = now
            return
        self.done_ids.add(reply_id)
        self.seqs.pop(reply_id, None)
        sample.t_done = now
        sample.t_first = sample.t_first or now
        sample.text = str(frame.get("text", ""))
        sample.outcome = "done"
        state.record_answer(self.index)


async def drive(
    state: PhaseState,
    *,
    warmup_s: float,
    warmup_max_s: float,
    duration: float,
    on_window: Callable[[str], None],
) -> dict[str, float]:
    wall_offset = time.time() - time.perf_counter()
    shoppers = [Shopper(i, state) for i in range(state.shoppers)]
    tasks = [asyncio.create_task(s.run()) for s in shoppers]
    try:
        started = time.perf_counter()
        while True:
            await asyncio.sleep(0.1)
            now = time.perf_counter()
            waited = now - started
            if waited >= warmup_s and (state.all_answered_at is not None or waited >= warmup_max_s):
                if not state.answered:
                    raise RuntimeError(
                        f"no shopper had a single reply in {waited:.0f} s "
                        f"(errors: {dict(state.errors)}); see the server and worker logs"
                    )
                break
            if all(task.done() for task in tasks):
                break
        window_start = time.perf_counter()
        on_window("start")
        await asyncio.sleep(duration)
        window_end = time.perf_counter()
        on_window("end")
        state.stop_sending = True
        _, pending = await asyncio.wait(tasks, timeout=state.reply_timeout_s + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sample in state.samples:
            if sample.outcome == "pending":
                sample.outcome = "lost"
        return {
            "started": started,
            "window_start": window_start,
            "window_end": window_end,
            "warmup_s": window_start - started,
            "warmup_capped": state.all_answered_at is None,
            "wall_offset": wall_offset,
        }
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --- the run ---------------------------------------------------------------------------


@dataclass
class PhaseSpec:
    name: str
    shoppers: int
    think_ms: float
    ttft_ms: float
    tokens_per_s: float
    reply_tokens: int


class BenchRun:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.log_dir = Path(args.logs or tempfile.mkdtemp(prefix="bench-load-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes = Processes(self.log_dir)
        self.database_url: str | None = args.database_url
        self.database_created = False
        self.redis_url = ""
        self.redis_port = 0
        self.provider_url: str | None = args.provider_control
        self.ws_url = args.attach or ""
        self.meter: CpuMeter | None = None
        self.attach_pids = _parse_pids(args.attach_pids)
        self._cleaned = False
        self.failed = False
        self._cleanup_lock = threading.Lock()

    # -- set-up --

    def execute(self) -> list[dict[str, Any]]:
        args = self.args
        if args.attach:
            print(f"attaching to {args.attach}", file=sys.stderr)
        else:
            self._start_topology()
        customers: list[tuple[str, str | None]] = (
            [(c.strip(), None) for c in args.customers.split(",") if c.strip()]
            if args.customers
            else list(customers_with_orders(self.database_url or ""))
        )
        names = [name for _, name in customers]
        secret = args.shop_token_secret or "bench-only-shop-token-secret"
        from support_bot.identity import customer_token_make

        lifetime = int(args.timeout) + 3600
        tokens = [
            customer_token_make(external_id=c, secret=secret, ttl_seconds=lifetime)
            for c, _ in customers
        ]
        self.meter = CpuMeter(self._kinds)
        self.meter.start()
        results = []
        for count in args.shopper_counts:
            phases = [
                PhaseSpec(
                    "provider",
                    count,
                    args.think_ms,
                    args.provider_ttft_ms,
                    args.provider_tokens_per_s,
                    args.reply_tokens,
                )
            ]
            if args.also_zero_latency:
                phases.append(
                    PhaseSpec(
                        "zero-latency", count, args.zero_latency_think_ms, 0, 0, args.reply_tokens
                    )
                )
            results.append(
                {
                    "shoppers": count,
                    "phases": [self._phase(spec, tokens, names) for spec in phases],
                }
            )
        return results

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not PROVIDER_KEY_VARIABLES.match(k)}
        env.update(
            DATABASE_URL=self.database_url or "",
            REDIS_URL=self.redis_url,
            SECRET_KEY="bench-only-secret-key-" + "x" * 40,
            SHOP_TOKEN_SECRET="bench-only-shop-token-secret",
            LOCAL_MODEL_URL=self.provider_url + "/v1" if self.provider_url else "",
            DAILY_BUDGET_USD="1000000",
            CONVERSATION_BUDGET_USD="1000000",
            # The widget's per-connection message limit (20/min) is a shopper protection; the
            # bench's shoppers type faster than people, on purpose.
            CHAT_RATE_BURST="1000",
            CHAT_RATE_PER_MINUTE="100000",
            # Likewise the per-address limits: every bench shopper comes from 127.0.0.1.
            CHAT_IP_CONNECTIONS_PER_MINUTE="1000000",
            CHAT_IP_MESSAGES_PER_MINUTE="1000000",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SETTINGS_MODULE="support_bot.settings",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        if self.args.gc_pauses:
            env["BENCH_GC_LOG_DIR"] = str(self._gc_log_dir())
            env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(ROOT / "bench" / "gc_pauses"), env.get("PYTHONPATH")])
            )
        for item in self.args.env:
            name, _, value = item.partition("=")
            env[name] = value
        return env

    def _gc_log_dir(self) -> Path:
        path = self.log_dir / "gc"
        path.mkdir(exist_ok=True)
        return path

    def _start_topology(self) -> None:
        args = self.args
        print(f"logs: {self.log_dir}", file=sys.stderr)
        self.database_url, fresh = database_create(args.postgres, reuse=args.reuse_db)
        self.database_created = True
        if args.private_redis:
            self.redis_port = free_port()
            redis = self.processes.start(
                "redis",
                "redis",
                [
                    "redis-server",
                    "--port",
                    str(self.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            )
            wait_for_port(self.redis_port, redis.process, f"redis-server (see {redis.log})")
            self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        else:
            self.redis_url = f"{args.redis.rstrip('/')}/{args.redis_db}"
            self.redis_port = urlsplit(args.redis).port or 6379
        self._redis().flushdb()
        env = self._base_env()
        # A kept database is migrated again: the schema may have moved on since.
        t = time.monotonic()
        seed = ["seed_demo"] + ([] if args.written_answers else ["--without-written-answers"])
        for command in [["migrate", "-v0"]] + ([seed] if fresh else []):
            subprocess.run(
                [PYTHON, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=(self.log_dir / "setup.log").open("ab"),
            )
        print(f"database ready in {time.monotonic() - t:.0f} s", file=sys.stderr)
        provider_port = free_port()
        self.provider_url = f"http://127.0.0.1:{provider_port}"
        provider = self.processes.start(
            "provider",
            "provider",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "routing.fake_provider:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(provider_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
        )
        wait_for_port(provider_port, provider.process, f"the fake provider (see {provider.log})")
        env = self._base_env()
        for index in range(args.workers):
            self.processes.start(
                "workers",
                f"worker-{index}",
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "support_bot",
                    "worker",
                    "--pool",
                    args.pool,
                    "--concurrency",
                    str(args.concurrency),
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-n",
                    f"bench{index}@%h",
                    *(["--include", "floor_worker"] if args.floor else []),
                ],
                dict(
                    env,
                    PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")])),
                )
                if args.floor
                else env,
            )
        asgi_port = free_port()
        command = asgi_command(asgi_port, workers=args.asgi_workers, access_log=False)
        asgi = self.processes.start("asgi", "asgi", command, env)
        wait_for_port(asgi_port, asgi.process, f"uvicorn (see {asgi.log})")
        self.ws_url = f"ws://127.0.0.1:{asgi_port}"
        self._wait_for_workers(args.workers)
        print(
            f"serving {self.ws_url} (fake provider {self.provider_url}, {self.redis_url})",
            file=sys.stderr,
        )

    def _wait_for_workers(self, count: int) -> None:
        from celery import Celery

        app = Celery(broker=self.redis_url)
        deadline = time.monotonic() + 120
        t = time.monotonic()
        try:
            while time.monotonic() < deadline:
                for started in self.processes.started:
                    if started.kind == "workers" and started.process.poll() is not None:
                        raise RuntimeError(f"a Celery worker exited; see {started.log}")
                if len(app.control.ping(timeout=1.0) or []) >= count:
                    print(
                        f"{count} worker(s) ready in {time.monotonic() - t:.0f} s", file=sys.stderr
                    )
                    return
            raise RuntimeError("the Celery workers did not answer within 120 s")
        finally:
            app.close()

    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    def _kinds(self, table: dict[int, tuple[int, str, int, int]]) -> dict[int, str]:
        kinds: dict[int, str] = {}
        for kind in ("asgi", "workers", "provider", "redis"):
            for pid in _descendants(table, self.processes.roots(kind)):
                kinds[pid] = kind
        for kind, pids in self.attach_pids.items():
            for pid in _descendants(table, pids):
                kinds[pid] = kind
        kinds[os.getpid()] = "loadgen"
        for pid, (_, comm, _, _) in table.items():
            if pid in kinds:
                continue
            if comm == "redis-server" and not self.args.private_redis:
                if f":{self.redis_port}" in _cmdline(pid):
                    kinds[pid] = "redis (shared)"
            elif comm == "postgres":
                line = _cmdline(pid)
                if f" {DATABASE} " in line:
                    kinds[pid] = "postgres"
                elif PG_AUX.search(line):
                    kinds[pid] = "postgres aux (shared)"
        return kinds

    # -- one phase --

    def _configure_provider(self, spec: PhaseSpec) -> None:
        if not self.provider_url:
            return
        body = json.dumps(
            {
                "ttft_ms": spec.ttft_ms,
                "tokens_per_s": spec.tokens_per_s,
                "reply_tokens": spec.reply_tokens,
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.provider_url}/__fake__/config",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=5) as response:
            response.read()

    def _phase(self, spec: PhaseSpec, tokens: list[str], names: list[str | None]) -> dict[str, Any]:
        args = self.args
        assert self.meter is not None
        if spec.name == "zero-latency" and self.args.attach and not self.provider_url:
            print("zero-latency phase skipped: attach without --provider-control", file=sys.stderr)
        self._configure_provider(spec)
        print(
            f"phase {spec.name}: {spec.shoppers} shoppers, think {spec.think_ms:.0f} ms, "
            f"provider TTFT {spec.ttft_ms:.0f} ms, {spec.tokens_per_s:.0f} tokens/s "
            f"({'no delay' if not spec.tokens_per_s else 'paced'}), {spec.reply_tokens}-token replies",
            file=sys.stderr,
        )
        parts = urlsplit(self.ws_url)
        state = PhaseState(
            url=f"{self.ws_url.rstrip('/')}/ws/chat/",
            origin=f"http://{parts.hostname}:{parts.port}",
            tokens=tokens,
            names=names,
            vary_texts=not args.exact_texts,
            shoppers=spec.shoppers,
            think_s=spec.think_ms / 1000,
            mix=args.mix_weights,
            messages_per_conversation=args.messages_per_conversation,
            reply_timeout_s=args.reply_timeout_s,
            ramp_s=args.ramp_s,
            compression=not args.no_compression,
            seed=args.seed,
        )
        marks: dict[str, Any] = {}
        profilers: list[subprocess.Popen[bytes]] = []

        def on_window(which: str) -> None:
            marks[f"wall_{which}"] = time.time()
            marks[f"cpu_{which}"] = self.meter.sample()  # type: ignore[union-attr]
            marks[f"machine_{which}"] = machine_busy_ticks()
            if which == "end":
                marks["rss_mb"] = rss_mb_by_kind(self._kinds(_proc_table()))
            if self.database_url:
                with contextlib.suppress(Exception):
                    marks[f"pg_{which}"] = pg_database_stats(self.database_url)
            with contextlib.suppress(Exception):
                marks[f"redis_{which}"] = self._redis_stats()
            if which == "start" and args.profile and spec.name == "provider":
                profilers.extend(self._profile(spec, args.duration))

        loop = _new_loop()
        main = loop.create_task(
            drive(
                state,
                warmup_s=args.warmup_s,
                warmup_max_s=args.warmup_max_s,
                duration=args.duration,
                on_window=on_window,
            )
        )
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, main.cancel)
        try:
            timing = loop.run_until_complete(main)
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            loop.close()
        for profiler in profilers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                profiler.wait(timeout=30)
        reply_ids = [s.reply_id for s in state.samples if s.reply_id]
        kinds = reply_kinds(self.database_url, reply_ids) if self.database_url else {}
        stamps = reply_timestamps(self.database_url, reply_ids) if self.database_url else {}
        result = summarize(spec, state, timing, marks, kinds, args, stamps)
        if self.database_url:
            result["lost_detail"] = lost_replies(self.database_url, state.samples)
        if args.samples:
            _dump_samples(Path(args.samples), spec, state, timing, kinds)
        if args.profile and spec.name == "provider":
            result["profile"] = profile_summaries(Path(args.profile), spec)
        if args.gc_pauses and "wall_start" in marks and "wall_end" in marks:
            result["gc_collections"] = gc_pauses_between(
                self._gc_log_dir(), marks["wall_start"], marks["wall_end"], result["messages"]
            )
        print_phase(result)
        return result

    def _redis_stats(self) -> dict[str, Any]:
        client = self._redis()
        try:
            stats = client.info("commandstats")
            total = client.info("stats")["total_commands_processed"]
        finally:
            client.close()
        calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
        return {"total": total, "calls": calls}

    def _profile(self, spec: PhaseSpec, duration: float) -> list[subprocess.Popen[bytes]]:
        out = Path(self.args.profile)
        out.mkdir(parents=True, exist_ok=True)
        started = []
        table = _proc_table()
        for kind in ("asgi", "workers"):
            for root in self.processes.roots(kind):
                for pid in sorted(_descendants(table, [root])):
                    if (
                        "python" not in table[pid][1]
                        and "celery" not in table[pid][1]
                        and "uvicorn" not in table[pid][1]
                    ):
                        continue
                    target = out / f"{spec.name}-{spec.shoppers}-{kind}-{pid}.txt"
                    started.append(
                        subprocess.Popen(
                            [
                                self.args.py_spy,
                                "record",
                                "--pid",
                                str(pid),
                                "--duration",
                                str(int(duration)),
                                "--rate",
                                "200",
                                "--format",
                                "raw",
                                "--nonblocking",
                                "--output",
                                str(target),
                                *self.args.py_spy_args.split(),
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=(out / "py-spy.log").open("ab"),
                            start_new_session=True,
                        )
                    )
        return started

    # -- tear-down --

    def cleanup(self) -> None:
        with self._cleanup_lock:
            if self._cleaned:
                return
            self._cleaned = True
            if self.meter is not None:
                self.meter.stop()
            self.processes.stop_all()
            if self.args.attach:
                return
            if self.redis_url and not self.args.private_redis:
                with contextlib.suppress(Exception):
                    self._redis().flushdb()
            if self.database_created:
                if self.args.keep:
                    print(f"kept: {self.database_url}", file=sys.stderr)
                else:
                    with contextlib.suppress(Exception):
                        database_drop(self.args.postgres)
            if not self.args.logs and not self.failed:
                shutil.rmtree(self.log_dir, ignore_errors=True)
            elif self.failed:
                print(f"logs kept: {self.log_dir}", file=sys.stderr)


def _parse_pids(text: str) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = defaultdict(list)
    for item in text.split(","):
        if item.strip():
            kind, _, pid = item.partition("=")
            pids[kind.strip()].append(int(pid))
    return dict(pids)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


# --- figures ---------------------------------------------------------------------------


def gc_pauses_between(
    log_dir: Path, start: float, end: float, messages: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """Garbage collections in the window per process kind and generation
    (bench/gc_pauses): how many, the longest pause, all pauses together and per message,
    in milliseconds."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for log in log_dir.iterdir():
        for line in log.read_text().splitlines():
            at, generation, count, total_ms, longest_ms, kind = line.split()
            if start <= float(at) < end:
                entry = sums[kind, "full" if generation == "2" else f"gen{generation}"]
                entry[0] += int(count)
                entry[1] += float(total_ms)
                entry[2] = max(entry[2], float(longest_ms))
    collections: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for (kind, generation), (count, total, longest) in sorted(sums.items()):
        collections[kind][generation] = {
            "count": int(count),
            "max_ms": round(longest, 2),
            "total_ms": round(total, 1),
            "ms_per_message": round(total / messages, 3) if messages else None,
        }
    return dict(collections)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _dist(values: Sequence[float]) -> dict[str, Any]:
    return {
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else None,
        "n": len(values),
    }


def summarize(
    spec: PhaseSpec,
    state: PhaseState,
    timing: dict[str, float],
    marks: dict[str, Any],
    kinds: dict[int, dict[str, Any]],
    args: argparse.Namespace,
    stamps: dict[int, dict[str, float]],
) -> dict[str, Any]:
    start, end = timing["window_start"], timing["window_end"]
    window = end - start
    to_wall = timing["wall_offset"]
    expected_done_ms = spec.ttft_ms + (
        (spec.reply_tokens - 1) / spec.tokens_per_s * 1000 if spec.tokens_per_s else 0
    )

    def kind_of(sample: Sample) -> str:
        known = kinds.get(sample.reply_id or -1)
        if known is not None:
            return {"tier0": "tier0", "cache_hit": "cache_hit"}.get(known["outcome"], "llm")
        return "llm" if sample.text.startswith("Echo:") else "tier0"

    measured = [s for s in state.samples if start <= s.t_send < end and s.outcome == "done"]
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in measured:
        by_kind[kind_of(sample)].append(sample)
    llm = by_kind.get("llm", [])
    added_ttft = [(s.t_first - s.t_send) * 1000 - spec.ttft_ms for s in llm]  # type: ignore[operator]
    added_done = [(s.t_done - s.t_send) * 1000 - expected_done_ms for s in llm]  # type: ignore[operator]
    provider_seen = [
        kinds[s.reply_id]["ttft_ms"] - spec.ttft_ms
        for s in llm
        if s.reply_id in kinds and kinds[s.reply_id]["ttft_ms"] is not None
    ]

    def observed(samples: list[Sample], what: str) -> list[float]:
        return [
            ((s.t_first if what == "first" else s.t_done) - s.t_send) * 1000  # type: ignore[operator]
            for s in samples
        ]

    completed = [
        s for s in state.samples if s.outcome == "done" and s.t_done and start <= s.t_done < end
    ]
    outcomes = Counter(
        "error" if s.outcome.startswith("error") else s.outcome for s in state.samples
    )
    cpu = CpuMeter.between(marks.get("cpu_start", {}), marks.get("cpu_end", {}))
    messages = len(completed)
    per_message = {kind: seconds / messages for kind, seconds in cpu.items()} if messages else {}
    pg = _diff(marks.get("pg_start"), marks.get("pg_end"))
    redis_total = _diff(marks.get("redis_start"), marks.get("redis_end"))
    redis_calls: dict[str, int] = {}
    if marks.get("redis_start") and marks.get("redis_end"):
        before = marks["redis_start"]["calls"]
        redis_calls = {
            name: calls - before.get(name, 0)
            for name, calls in marks["redis_end"]["calls"].items()
            if calls - before.get(name, 0) > 0
        }
    hello = [ms for at, ms in state.hello_ms if start <= at < end]
    stages = _stages(llm, stamps, kinds, to_wall, spec)
    stages_tier0 = _stages(by_kind.get("tier0", []), stamps, kinds, to_wall, spec)
    machine_s = (marks.get("machine_end", 0) - marks.get("machine_start", 0)) / CLOCK_TICKS
    ours = sum(v for k, v in cpu.items() if "shared" not in k)
    replies_by_category = Counter(s.category for s in measured)
    kind_counts = {kind: len(samples) for kind, samples in by_kind.items()}
    return {
        "phase": spec.name,
        "shoppers": spec.shoppers,
        "think_ms": spec.think_ms,
        "provider_ttft_ms": spec.ttft_ms,
        "provider_tokens_per_s": spec.tokens_per_s,
        "reply_tokens": spec.reply_tokens,
        "workers": args.workers,
        "pool": args.pool,
        "concurrency": args.concurrency,
        "asgi_workers": args.asgi_workers,
        "floor": args.floor,
        "attached": args.attach,
        "warmup_s": round(timing["warmup_s"], 1),
        "warmup_capped": timing["warmup_capped"],
        "window_s": round(window, 1),
        "messages": messages,
        "messages_per_s": messages / window if window else 0.0,
        "replies_by_kind": kind_counts,
        "replies_by_category": dict(replies_by_category),
        "added_ttft_ms": _dist(added_ttft),
        "added_done_ms": _dist(added_done),
        "provider_ttft_seen_by_worker_minus_configured_ms": _dist(provider_seen),
        "tier0_first_ms": _dist(observed(by_kind.get("tier0", []), "first")),
        "tier0_done_ms": _dist(observed(by_kind.get("tier0", []), "done")),
        "cache_hit_done_ms": _dist(observed(by_kind.get("cache_hit", []), "done")),
        "llm_done_observed_ms": _dist(observed(llm, "done")),
        "hello_ms": _dist(hello),
        "stages_llm_ms": stages,
        "stages_tier0_ms": stages_tier0,
        "machine_cores_busy": round(machine_s / window, 2) if window else None,
        "others_cores_busy": round(max(machine_s - ours, 0) / window, 2) if window else None,
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "rss_mb": marks.get("rss_mb", {}),
        "cpu_ms_per_message": {k: round(v * 1000, 2) for k, v in per_message.items()},
        "pg_per_message": {k: round(v / messages, 1) for k, v in pg.items() if k != "numbackends"}
        if messages
        else {},
        "pg_backends": (marks.get("pg_end") or {}).get("numbackends"),
        "redis_commands_per_message": round(redis_total.get("total", 0) / messages, 1)
        if messages
        else None,
        "redis_top_commands_per_message": {
            name: round(calls / messages, 1)
            for name, calls in sorted(redis_calls.items(), key=lambda kv: -kv[1])[:8]
        }
        if messages
        else {},
        "redis_shared": not args.private_redis and not args.attach,
        "sent": len(state.samples),
        "outcomes": dict(outcomes),
        "errors": sum(state.errors.values()),
        "error_codes": dict(state.errors),
        "lost": outcomes.get("lost", 0),
        "lost_in_window": sum(
            1 for s in state.samples if s.outcome == "lost" and start <= s.t_send < end
        ),
        "duplicated": sum(state.duplicated.values()),
        "duplicated_kinds": dict(state.duplicated),
        "handed_off": outcomes.get("handed_off", 0),
        "stray_frames": state.stray_frames,
        "resets": sum(s.resets for s in state.samples),
    }


STAGES = [
    ("send -> reply row created (consumer, DB)", "t_send", "created"),
    ("created -> claimed by a worker (commit, ack, enqueue, broker)", "created", "started"),
    ("claimed -> first token stored (a ready answer: finished)", "started", "first_token"),
    ("first token stored -> shopper's first delta", "first_token", "t_first"),
    ("finished stored -> shopper's done", "finished", "t_done"),
]


def _stages(
    samples: list[Sample],
    stamps: dict[int, dict[str, float]],
    kinds: dict[int, dict[str, Any]],
    to_wall: float,
    spec: PhaseSpec,
) -> dict[str, dict[str, Any]]:
    """Where the time of a reply went, from the server's own timestamps (same clock)."""
    values: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        known = stamps.get(sample.reply_id or -1)
        if not known:
            continue
        points = dict(known)
        for name in ("t_send", "t_first", "t_done"):
            moment = getattr(sample, name)
            if moment is not None:
                points[name] = moment + to_wall
        for label, a, b in STAGES:
            if a in points and b in points:
                values[label].append((points[b] - points[a]) * 1000)
        ledger = kinds.get(sample.reply_id or -1) or {}
        if "started" in points and "first_token" in points and ledger.get("ttft_ms") is not None:
            before = (points["first_token"] - points["started"]) * 1000 - ledger["ttft_ms"]
            values["  of which worker time besides the provider"].append(before)
    order = [label for label, _, _ in STAGES]
    order.insert(3, "  of which worker time besides the provider")
    return {label: _dist(values[label]) for label in order if values.get(label)}


def _dump_samples(
    path: Path,
    spec: PhaseSpec,
    state: PhaseState,
    timing: dict[str, Any],
    kinds: dict[int, dict[str, Any]],
) -> None:
    start = timing["started"]
    with path.open("a") as out:
        for sample in state.samples:
            row = {
                "phase": spec.name,
                "shoppers": spec.shoppers,
                "shopper": sample.shopper,
                "category": sample.category,
                "outcome": sample.outcome,
                "reply_id": sample.reply_id,
                "kind": (kinds.get(sample.reply_id or -1) or {}).get("outcome"),
                "in_window": timing["window_start"] <= sample.t_send < timing["window_end"],
                "send_s": round(sample.t_send - start, 3),
            }
            for name in ("t_ack", "t_first", "t_done"):
                moment = getattr(sample, name)
                row[name[2:] + "_ms"] = (
                    None if moment is None else round((moment - sample.t_send) * 1000, 1)
                )
            out.write(json.dumps(row) + "\n")


def _diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, int]:
    if not before or not after:
        return {}
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, int)}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def print_phase(result: dict[str, Any]) -> None:
    r = result
    speed = (
        f"{r['provider_tokens_per_s']:.0f} tokens/s" if r["provider_tokens_per_s"] else "no delay"
    )
    print()
    topology = (
        f"attached to {r['attached']}"
        if r.get("attached")
        else f"{r['workers']} worker(s) ({r['pool']} x{r['concurrency']}), "
        f"{r['asgi_workers']} ASGI process(es)"
    )
    if r.get("floor"):
        topology += "; FLOOR: workers only claim, stream and finish (bench/floor_worker.py)"
    print(
        f"== phase '{r['phase']}': {r['shoppers']} shoppers, think {r['think_ms']:.0f} ms; "
        f"provider TTFT {r['provider_ttft_ms']:.0f} ms, {speed}, {r['reply_tokens']}-token "
        f"replies; {topology}"
    )
    capped = " (capped: not every shopper had a reply)" if r["warmup_capped"] else ""
    print(
        f"   measured {r['window_s']} s after a {r['warmup_s']} s warm-up{capped}; "
        f"{r['messages']} replies completed = {r['messages_per_s']:.1f} messages/s; "
        f"by kind {r['replies_by_kind']}"
    )
    print(f"   {'':44} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'n':>6}")
    rows = [
        ("added TTFT, LLM replies (ms)", r["added_ttft_ms"]),
        ("added time to done, LLM replies (ms)", r["added_done_ms"]),
        (
            "  of which provider TTFT as the worker saw it",
            r["provider_ttft_seen_by_worker_minus_configured_ms"],
        ),
        ("LLM reply done, shopper-observed (ms)", r["llm_done_observed_ms"]),
        ("tier 0: first delta, shopper-observed (ms)", r["tier0_first_ms"]),
        ("tier 0: done, shopper-observed (ms)", r["tier0_done_ms"]),
        ("cache hits: done, shopper-observed (ms)", r["cache_hit_done_ms"]),
        ("hello -> welcome (ms)", r["hello_ms"]),
    ]
    for label, dist in rows:
        print(
            f"   {label:44} {_ms(dist['p50']):>8} {_ms(dist['p95']):>8} {_ms(dist['p99']):>8} "
            f"{_ms(dist['max']):>8} {dist['n']:>6}"
        )
    for title, key in (("LLM replies", "stages_llm_ms"), ("tier-0 replies", "stages_tier0_ms")):
        if r.get(key):
            print(f"   where the time went, {title} (server timestamps):")
            for label, dist in r[key].items():
                print(
                    f"     {label:64} {_ms(dist['p50']):>8} {_ms(dist['p95']):>8} "
                    f"{_ms(dist['p99']):>8}"
                )
    print(
        f"   errors {r['errors']} {r['error_codes'] or ''}  lost {r['lost']} "
        f"({r['lost_in_window']} sent in the window)  "
        f"duplicated {r['duplicated']} {r['duplicated_kinds'] or ''}  handed off {r['handed_off']}  "
        f"stray frames {r['stray_frames']}  resets {r['resets']}  (over all {r['sent']} sent)"
    )
    lost_detail = r.get("lost_detail", [])
    for lost in lost_detail[:10]:
        print(f"     lost: {lost}")
    if len(lost_detail) > 10:
        print(f"     ... and {len(lost_detail) - 10} more lost")
    cpu = r["cpu_ms_per_message"]
    total = sum(v for k, v in cpu.items() if "shared" not in k)
    window = r["window_s"] or 1
    cores = {k: v / window for k, v in r["cpu_seconds"].items()}
    print("   CPU ms per message (share of one core):")
    for kind in sorted(cpu, key=lambda k: -cpu[k]):
        print(f"     {kind:26} {cpu[kind]:8.2f}  ({cores.get(kind, 0):.0%})")
    print(f"     {'total (without shared)':26} {total:8.2f}")
    print(f"   resident memory (MB): {r['rss_mb']}")
    if "gc_collections" in r:
        print("   garbage collections in the window (count, longest, per message):")
        for kind, generations in r["gc_collections"].items():
            print(
                f"     {kind:10} "
                + ", ".join(
                    f"{generation} {g['count']} ({g['max_ms']:.1f} ms, {g['ms_per_message']} ms)"
                    for generation, g in generations.items()
                )
            )
    print(
        f"   machine: {r['machine_cores_busy']} of {os.cpu_count()} cores busy, "
        f"{r['others_cores_busy']} of them with other people's work"
    )
    if r["pg_per_message"]:
        pg = r["pg_per_message"]
        print(
            f"   PostgreSQL per message: {pg.get('xact_commit', 0)} transactions, "
            f"{pg.get('tup_inserted', 0)} rows inserted, {pg.get('tup_updated', 0)} updated, "
            f"{pg.get('tup_fetched', 0)} fetched; {r['pg_backends']} backends"
        )
    if r["redis_commands_per_message"] is not None:
        shared = " (shared server: other clients included)" if r["redis_shared"] else ""
        print(
            f"   Redis commands per message: {r['redis_commands_per_message']}{shared}; "
            f"top {r['redis_top_commands_per_message']}"
        )
    for kind, lines in (r.get("profile") or {}).items():
        print(f"   py-spy, {kind}: top functions by own samples")
        for line in lines:
            print(f"     {line}")
    sys.stdout.flush()


SWEEP_ROWS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("messages/s", lambda r: f"{r['messages_per_s']:.1f}"),
    ("added TTFT p50 ms", lambda r: _ms(r["added_ttft_ms"]["p50"])),
    ("added TTFT p95 ms", lambda r: _ms(r["added_ttft_ms"]["p95"])),
    ("added TTFT p99 ms", lambda r: _ms(r["added_ttft_ms"]["p99"])),
    ("added done p50 ms", lambda r: _ms(r["added_done_ms"]["p50"])),
    ("added done p95 ms", lambda r: _ms(r["added_done_ms"]["p95"])),
    ("tier-0 done p50 ms", lambda r: _ms(r["tier0_done_ms"]["p50"])),
    ("tier-0 done p95 ms", lambda r: _ms(r["tier0_done_ms"]["p95"])),
    ("errors/lost/duplicated", lambda r: f"{r['errors']}/{r['lost']}/{r['duplicated']}"),
    ("CPU ms/msg asgi", lambda r: f"{r['cpu_ms_per_message'].get('asgi', 0):.1f}"),
    ("CPU ms/msg workers", lambda r: f"{r['cpu_ms_per_message'].get('workers', 0):.1f}"),
    ("CPU ms/msg provider", lambda r: f"{r['cpu_ms_per_message'].get('provider', 0):.1f}"),
    ("CPU ms/msg loadgen", lambda r: f"{r['cpu_ms_per_message'].get('loadgen', 0):.1f}"),
    ("CPU ms/msg postgres", lambda r: f"{r['cpu_ms_per_message'].get('postgres', 0):.1f}"),
    (
        "CPU ms/msg redis",
        lambda r: (
            f"{r['cpu_ms_per_message'].get('redis', r['cpu_ms_per_message'].get('redis (shared)', 0)):.1f}"
        ),
    ),
    ("PG transactions/msg", lambda r: str(r["pg_per_message"].get("xact_commit", "-"))),
    ("Redis commands/msg", lambda r: str(r["redis_commands_per_message"])),
]


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    if len(results) > 1:
        names = [p["phase"] for p in results[0]["phases"]]
        for index, name in enumerate(names):
            print()
            print(f"== sweep, phase '{name}': how cost grows with work")
            header = "".join(f"{'N=' + str(r['shoppers']):>12}" for r in results)
            print(f"   {'':26}{header}")
            for label, cell in SWEEP_ROWS:
                print(
                    f"   {label:26}" + "".join(f"{cell(r['phases'][index]):>12}" for r in results)
                )
    if args.json:
        first = results[0]["phases"][0]
        summary = {
            "added_ttft_ms_p50": first["added_ttft_ms"]["p50"],
            "added_ttft_ms_p95": first["added_ttft_ms"]["p95"],
            "added_ttft_ms_p99": first["added_ttft_ms"]["p99"],
            "added_done_ms_p50": first["added_done_ms"]["p50"],
            "added_done_ms_p95": first["added_done_ms"]["p95"],
            "added_done_ms_p99": first["added_done_ms"]["p99"],
            "tier0_done_ms_p95": first["tier0_done_ms"]["p95"],
            "messages_per_s": first["messages_per_s"],
            "errors": sum(p["errors"] for r in results for p in r["phases"]),
            "lost": sum(p["lost"] for r in results for p in r["phases"]),
            "duplicated": sum(p["duplicated"] for r in results for p in r["phases"]),
            "runs": results,
        }
        print(json.dumps(summary, default=str))


# --- profiles --------------------------------------------------------------------------


def profile_summaries(directory: Path, spec: PhaseSpec, top: int = 12) -> dict[str, list[str]]:
    """py-spy raw (collapsed) stacks -> the functions with the most own samples, per kind."""
    own: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for path in directory.glob(f"{spec.name}-{spec.shoppers}-*-*.txt"):
        kind = path.stem.split("-")[-2]
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            leaf = stack.split(";")[-1]
            own[kind][_short(leaf)] += int(count)
            totals[kind] += int(count)
    return {
        kind: [f"{count / totals[kind]:6.1%}  {name}" for name, count in counter.most_common(top)]
        for kind, counter in own.items()
    }


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)"
    match = re.match(r"(.*) \((.*?)([^/]*):(\d+)\)$", frame)
    return f"{match[1]} ({match[3]}:{match[4]})" if match else frame


if __name__ == "__main__":
    main()
