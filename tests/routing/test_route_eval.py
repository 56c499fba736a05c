from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

LINES = [
    {"text": "where is my order 100001?"},
    {"text": "I want to speak to a real person"},
    {"text": "and the other one?", "history": ["where is my order 100001?"]},
    {"text": "which tent would you recommend for two people?"},
    {"text": "where is my order?", "customer_known": False},
]


def run(tmp_path: Path, lines: list[str]) -> tuple[list[dict[str, Any]], str]:
    path = tmp_path / "transcripts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out, err = StringIO(), StringIO()
    call_command("route_eval", str(path), stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_one_decision_per_line_in_order_with_a_summary(tmp_path: Path) -> None:
    results, summary = run(tmp_path, [json.dumps(line) for line in LINES])
    assert len(results) == len(LINES)
    assert set(results[0]) == {"tier", "intent", "escalate", "reasons", "confidence"}
    assert (results[0]["tier"], results[0]["intent"]) == (0, "order_status")
    assert results[1]["escalate"] and "asked_for_person" in results[1]["reasons"]
    assert results[2]["intent"] == "order_status" and "follow_up" in results[2]["reasons"]
    assert results[3]["tier"] == 2
    assert results[4]["tier"] == 1 and "needs_verification" in results[4]["reasons"]
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in results)
    assert "5 messages" in summary


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        ('{"message": "hi"}', 'line 2: expected {"text"'),
        ('{"text": "hi", "history": "oops"}', "line 2: 'history' must be a list"),
        ('{"text": "hi", "history": [42]}', "line 2: history[0] must be"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("{", r"\{").replace("[", r"\[")):
        run(tmp_path, ['{"text": "hello"}', line])
