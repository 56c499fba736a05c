"""The cost report in Chromium, as finance reads it: log in to the admin, open the report."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from routing.defaults import install_defaults
from routing.models import LLMModel, Provider, TierRoute
from support_bot.cost_report.filters import default_period
from support_bot.cost_report.selectors import cost_rows, report_today
from support_bot.services.demo_history import demo_history_seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "finance-password-1"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its own event loop; Django's async-safety check would
    # otherwise refuse the ORM calls this test makes around it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def demo_report(asgi_server: str) -> dict[str, Any]:
    """Demo history and a superuser, and the figures the page should show.

    Set up before the browser starts: ORM calls made inside Playwright's event loop would
    open a second connection that outlives the test.
    """
    # Transactional tests flush the registry the migrations installed: put it back.
    install_defaults(Provider, LLMModel, TierRoute)
    history = demo_history_seed(days=45, seed=7, today=report_today())
    assert history.ledger_rows > 0
    User.objects.create_superuser("finance", "finance@example.com", PASSWORD)
    rows = cost_rows(period=default_period(report_today()))
    return {
        "total": sum((row.cost_usd for row in rows), Decimal(0)),
        "tier0": sum(row.tier0_answers for row in rows),
    }


def test_finance_logs_in_and_reads_the_cost_report(
    asgi_server: str, demo_report: dict[str, Any], browser: Any
) -> None:
    base = asgi_server.replace("ws://", "http://")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/admin/login/?next=/admin/costs/")
    page.fill("#id_username", "finance")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/costs/")

    total, tier0 = demo_report["total"], demo_report["tier0"]
    assert page.get_by_test_id("total-cost").inner_text().startswith(f"${total:,.4f}")
    assert page.get_by_test_id("tier0").inner_text().startswith(f"{tier0:,}")
    assert page.get_by_role("img", name="Cost per day, by tier").is_visible()
    assert page.get_by_role("img", name="Cost by tier").is_visible()
    assert page.get_by_role("img", name="Spend and savings").is_visible()
    assert page.get_by_role("link", name="Download CSV").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cost-report.png"), full_page=True)

    page.goto(f"{base}/admin/")
    assert page.get_by_role("link", name="Cost report").is_visible()
