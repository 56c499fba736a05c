"""The gateway against real HTTP: fake providers that fail in the ways real ones do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from routing import limits
from routing.fake_provider import FakeProviderServer
from routing.gateway import Answer, NoModelAvailable, answer_stream
from routing.limits import BudgetExceeded, budget_reserve, budget_settle
from routing.models import LLMCall, LLMModel, Provider, TierRoute

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Do you ship to Spain?"},
]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeProviderServer, FakeProviderServer]]:
    with (
        FakeProviderServer(reply_tokens=12) as primary,
        FakeProviderServer(reply_tokens=12) as backup,
    ):
        yield primary, backup


def _model(name: str, url: str, price_in: str, price_out: str, **provider: Any) -> LLMModel:
    vendor = Provider.objects.create(name=name, base_url=url, **provider)
    return LLMModel.objects.create(
        provider=vendor,
        name=f"{name}-model",
        label=name,
        max_output_tokens=64,
        input_price_per_mtok=Decimal(price_in),
        output_price_per_mtok=Decimal(price_out),
    )


@pytest.fixture
def chain(fakes: tuple[FakeProviderServer, FakeProviderServer]) -> tuple[LLMModel, LLMModel]:
    """Tier 1: primary, then backup. No other model is routed."""
    limits.reset_backend()
    if os.environ.get("REDIS_URL"):
        limits.backend().client.flushdb()
    TierRoute.objects.all().delete()
    primary = _model("Primary", fakes[0].base_url, "1.00", "2.00")
    backup = _model("Backup", fakes[1].base_url, "1.00", "2.00")
    TierRoute.objects.create(tier=1, model=primary, priority=1)
    TierRoute.objects.create(tier=1, model=backup, priority=2)
    return primary, backup


class Recorder:
    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.resets = 0

    def piece(self, text: str) -> None:
        self.pieces.append(text)

    def reset(self) -> None:
        self.resets += 1
        self.pieces.clear()


def ask(recorder: Recorder | None = None, conversation_id: int | None = 1) -> Answer:
    recorder = recorder or Recorder()
    return answer_stream(
        tier=1,
        messages=MESSAGES,
        conversation_id=conversation_id,
        message_id=None,
        on_piece=recorder.piece,
        on_reset=recorder.reset,
    )


def outcomes() -> list[tuple[str, str, str]]:
    return list(LLMCall.objects.order_by("id").values_list("model", "outcome", "error_class"))


def test_a_healthy_primary_answers_and_the_call_is_priced(chain: Any, fakes: Any) -> None:
    recorder = Recorder()
    answer = ask(recorder)
    assert answer.model == chain[0] and answer.text.startswith("Echo: Do you ship to Spain?")
    assert "".join(recorder.pieces) == answer.text
    call = LLMCall.objects.get()
    assert (call.outcome, call.model, call.provider, call.tier) == (
        "ok",
        "Primary-model",
        "Primary",
        1,
    )
    expected = (Decimal(call.prompt_tokens) * 1 + Decimal(call.completion_tokens) * 2) / 1_000_000
    assert call.cost_usd == expected and call.cost_usd > 0
    assert not call.usage_estimated  # the fake reports usage, and it is used
    assert call.input_price_per_mtok == Decimal("1.0000")


def test_failure_before_the_first_token_retries_then_falls_back(chain: Any, fakes: Any) -> None:
    fakes[0].script(["http_500", "http_503"])
    recorder = Recorder()
    answer = ask(recorder)
    assert answer.model == chain[1]
    assert recorder.resets == 0
    assert outcomes() == [
        ("Primary-model", "error", "server_error"),
        ("Primary-model", "fallback", "server_error"),
        ("Backup-model", "ok", ""),
    ]


def test_a_stream_that_breaks_is_restarted_and_the_caller_told(chain: Any, fakes: Any) -> None:
    fakes[0].script(["disconnect:4", "malformed:2"])
    recorder = Recorder()
    answer = ask(recorder)
    assert recorder.resets == 2
    assert "".join(recorder.pieces) == answer.text  # nothing of the broken streams is left
    assert answer.model == chain[1]
    rows = outcomes()
    assert rows[0][1:] == ("partial", "disconnected") and rows[1][1:] == ("partial", "malformed")
    assert LLMCall.objects.filter(outcome="partial", completion_tokens__gt=0).count() == 2


def test_retry_after_is_honoured_when_short(chain: Any, fakes: Any) -> None:
    fakes[0].script(["http_429:1"])
    started = time.monotonic()
    answer = ask()
    assert time.monotonic() - started >= 1.0
    assert answer.model == chain[0]
    assert outcomes() == [("Primary-model", "error", "rate_limited"), ("Primary-model", "ok", "")]


def test_a_long_retry_after_spills_to_the_next_model_at_once(chain: Any, fakes: Any) -> None:
    fakes[0].script(["http_429:60"])
    started = time.monotonic()
    answer = ask()
    assert time.monotonic() - started < 2.0
    assert answer.model == chain[1]


def test_permanent_errors_are_not_retried(chain: Any, fakes: Any) -> None:
    fakes[0].script(["http_401"])
    assert ask().model == chain[1]
    assert fakes[0].stats()["requests"] == 1
    assert outcomes()[0] == ("Primary-model", "fallback", "auth")


def test_the_circuit_opens_after_repeated_failures_and_probes_after_cool_down(
    chain: Any, fakes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "BREAKER_COOL_DOWN_S", 1)
    fakes[0].script(["http_500"] * 6)
    for _ in range(3):
        ask()  # two failed attempts each: the fifth failure opens the circuit
    seen = fakes[0].stats()["requests"]
    assert ask().model == chain[1]
    assert fakes[0].stats()["requests"] == seen, "an open circuit sends nothing to the model"
    time.sleep(1.2)
    fakes[0].reset()
    assert ask().model == chain[0], "after the cool-down one probe goes through and succeeds"


def test_a_model_failing_a_minority_of_its_calls_keeps_its_circuit_closed(
    chain: Any, fakes: Any
) -> None:
    # Six failures in a row, more than the breaker's threshold, but after twelve
    # successes in the same window: the circuit stays closed. (Counting failures alone,
    # it opened at the fifth and the primary model got nothing more.)
    fakes[0].script(["ok"] * 12 + ["http_500"] * 6 + ["ok"] * 12)
    answered = [ask().model for _ in range(24)]
    assert answered.count(chain[1]) == 3, "the three asks that met two failures fell back"
    assert fakes[0].stats()["requests"] == 12 + 6 + 9
    assert answered[-9:] == [chain[0]] * 9


def test_a_model_without_its_key_is_not_used(chain: Any, fakes: Any) -> None:
    Provider.objects.filter(name="Primary").update(api_key_env="NO_SUCH_KEY_SET_ANYWHERE")
    assert ask().model == chain[1]
    assert fakes[0].stats()["requests"] == 0


def test_an_edit_to_the_routing_table_counts_from_the_next_call(chain: Any, fakes: Any) -> None:
    """Each process keeps the routing table's instances between calls: an edit, even a
    bulk update() that sends no signal, must still be what the next call uses."""
    assert ask().model == chain[0]

    LLMModel.objects.filter(pk=chain[0].pk).update(output_price_per_mtok=Decimal("5.00"))
    assert ask().model.output_price_per_mtok == Decimal("5.00")
    assert LLMCall.objects.latest("id").output_price_per_mtok == Decimal("5.00")

    Provider.objects.filter(name="Primary").update(enabled=False)
    assert ask().model == chain[1]
    TierRoute.objects.filter(model=chain[1]).update(priority=0)
    Provider.objects.filter(name="Primary").update(enabled=True)
    assert ask().model == chain[1], "the backup now comes first"
    TierRoute.objects.filter(model=chain[1]).delete()
    assert ask().model == chain[0]


def test_an_exhausted_budget_uses_a_cheaper_tier_or_gives_up_cleanly(
    chain: Any, fakes: Any, settings: Any
) -> None:
    settings.DAILY_BUDGET_USD = Decimal("0.00001")
    with pytest.raises(NoModelAvailable) as raised:
        ask()
    assert raised.value.budget_exhausted
    assert fakes[0].stats()["requests"] == 0 and fakes[1].stats()["requests"] == 0
    # A free model on a lower tier still answers when a tier-2 message hits the budget.
    free = _model("Free", fakes[1].base_url, "0", "0")
    TierRoute.objects.create(tier=1, model=free, priority=9)
    TierRoute.objects.filter(tier=1).exclude(model=free).update(tier=2)
    answer = answer_stream(
        tier=2,
        messages=MESSAGES,
        conversation_id=1,
        message_id=None,
        on_piece=lambda p: None,
        on_reset=lambda: None,
    )
    assert answer.model == free


def test_concurrent_reservations_never_overspend_by_more_than_one_worst_case(
    settings: Any,
) -> None:
    """The budget itself, on whichever store this topology has (Redis, or the process's
    own): 40 threads at once reserve a worst case of 10 and settle what they spent."""
    limits.reset_backend()
    if os.environ.get("REDIS_URL"):
        limits.backend().client.flushdb()
    worst, spent = Decimal("0.00010"), Decimal("0.00007")
    settings.DAILY_BUDGET_USD = Decimal("0.00100")
    settings.CONVERSATION_BUDGET_USD = Decimal(1)
    granted: list[int] = []
    barrier = threading.Barrier(40)

    def call(n: int) -> None:
        barrier.wait()
        try:
            reservation = budget_reserve(
                conversation_id=n, amount=worst, spent_today=lambda: Decimal(0)
            )
        except BudgetExceeded:
            return
        time.sleep(0.01)
        budget_settle(reservation, spent)
        granted.append(n)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 10 <= len(granted) < 40
    assert len(granted) * spent <= settings.DAILY_BUDGET_USD + worst


def test_concurrent_calls_never_overspend_by_more_than_one_worst_case(
    chain: Any, fakes: Any, settings: Any
) -> None:
    fakes[0].configure(ttft_ms=100)
    TierRoute.objects.filter(model=chain[1]).delete()
    worst = (Decimal(60) * 1 + Decimal(64) * 2) / 1_000_000  # generous prompt estimate
    settings.DAILY_BUDGET_USD = worst * 10
    settings.CONVERSATION_BUDGET_USD = Decimal(1)
    results: list[str] = []

    def call(n: int) -> None:
        try:
            ask(conversation_id=n)
            results.append("ok")
        except NoModelAvailable:
            results.append("refused")
        except Exception as error:  # a failed call must fail the test, not just its thread
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = sum(LLMCall.objects.values_list("cost_usd", flat=True), Decimal(0))
    assert set(results) <= {"ok", "refused"} and len(results) == 30, results
    assert results.count("ok") >= 5, "the budget covers several calls"
    assert results.count("refused") >= 10, "and refuses the rest"
    assert spent <= settings.DAILY_BUDGET_USD + worst


def test_a_conversation_cap_stops_one_chatty_conversation(chain: Any, settings: Any) -> None:
    settings.CONVERSATION_BUDGET_USD = Decimal("0.0003")
    answered = 0
    with pytest.raises(NoModelAvailable):
        for _ in range(10):
            ask(conversation_id=42)
            answered += 1
    assert 1 <= answered < 10
    ask(conversation_id=43)  # another conversation is not affected


@pytest.mark.topology
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis shared by processes")
def test_rate_limits_hold_across_worker_processes() -> None:
    limits.reset_backend()
    limits.backend().client.flushdb()
    code = (
        "import django; django.setup()\n"
        "from routing.limits import rate_take\n"
        "print(sum(rate_take(provider='Shared', rpm=15, tpm=None, tokens=10) == 0 for _ in range(20)))\n"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="support_bot.settings")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    granted = [int(w.communicate(timeout=60)[0].strip().splitlines()[-1]) for w in workers]
    assert sum(granted) == 15, granted
