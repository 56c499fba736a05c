"""The reliability suite (`pytest -m reliability`): every test adds to one summary table."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

FIGURES: Counter[str] = Counter()
ROWS = [
    "faults injected",
    "messages sent",
    "completed",
    "escalated",
    "lost",
    "duplicated",
    "probes sent",
    "leaks found",
    "fuzz cases",
]


@pytest.fixture
def figures() -> Counter[str]:
    return FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not any(FIGURES.values()):
        return
    terminalreporter.section("reliability summary")
    for row in ROWS:
        terminalreporter.write_line(f"{row:<18}{FIGURES[row]:>8}")
