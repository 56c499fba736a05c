"""The widget in Chromium, as a shopper uses it on the demo shop page."""

from __future__ import annotations

from typing import Any

import pytest

from orders.models import Customer
from routing.fake_provider import FakeProviderServer
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_shopper_chats_sees_the_reply_stream_and_finds_it_after_a_reload(
    asgi_server: str, reply_workers: FakeProviderServer, customer: Customer, browser: Any
) -> None:
    reply_workers.configure(tokens_per_s=60, reply_tokens=40)
    base = asgi_server.replace("ws://", "http://")
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.goto(f"{base}/?as={customer.external_id}")
    page.get_by_test_id("sbw-launcher").click()
    page.get_by_test_id("sbw-input").fill("Do you ship to Norway?")
    page.keyboard.press("Enter")

    bot = page.locator("[data-testid=sbw-message][data-role=bot]").last
    page.wait_for_selector(
        "[data-testid=sbw-message][data-role=bot][data-status=streaming]", timeout=15000
    )
    partial = bot.inner_text()
    page.wait_for_selector(
        "[data-testid=sbw-message][data-role=bot][data-status=done]", timeout=30000
    )
    final = bot.inner_text()
    assert final.startswith("Echo: ")
    assert len(partial) < len(final), "the reply should appear bit by bit"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "widget-reply.png"))

    page.reload()
    page.get_by_test_id("sbw-launcher").click()
    page.wait_for_selector(
        "[data-testid=sbw-message][data-role=bot][data-status=done]", timeout=15000
    )
    texts = page.locator("[data-testid=sbw-message]").all_inner_texts()
    assert texts[0] == "Do you ship to Norway?"
    assert texts[1] == final
    assert len(texts) == 2
    page.screenshot(path=str(ARTIFACTS / "widget-after-reload.png"))

    page.set_viewport_size({"width": 360, "height": 740})
    page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
    assert page.get_by_test_id("sbw-input").is_visible()


def test_too_many_connections_from_one_network_is_explained_and_waited_out(
    asgi_server: str, browser: Any
) -> None:
    # The server closes a connection with 4029 when one address opens too many a minute
    # (tests/support_bot/test_chat_consumer.py). The widget says so and waits out the
    # minute instead of knocking again every second.
    attempts: list[str] = []

    def refuse(ws: Any) -> None:
        attempts.append(ws.url)
        ws.close(code=4029, reason="too many connections")

    base = asgi_server.replace("ws://", "http://")
    page = browser.new_page()
    page.route_web_socket("**/ws/chat/**", refuse)
    page.goto(f"{base}/")
    page.get_by_test_id("sbw-launcher").click()
    notice = page.get_by_test_id("sbw-notice")
    notice.get_by_text("Too many chats were opened from your network").wait_for(timeout=10000)
    page.wait_for_timeout(4000)
    assert len(attempts) == 1, attempts
