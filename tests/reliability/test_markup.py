"""Cross-site scripting: markup typed by a shopper, echoed by the bot and sent by an agent
is shown as text in the widget, the agent console and the admin, and never runs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from orders.models import Customer
from routing.fake_provider import FakeProviderServer
from support_bot.models import Conversation, Message
from tests.conftest import SUPPORT_AGENTS

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

SHOPPER_MARKUP = (
    'Hi <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
    '[click](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">a</a>'
)
ASK_FOR_PERSON = 'I want to talk to a human <svg onload="window.__pwned=5">'
AGENT_MARKUP = '<img src=x onerror="window.__pwned=6">Hello <b>there</b>'
NOTE_MARKUP = '<iframe src="javascript:window.__pwned=7"></iframe>note'


def _safe(page: Any, bubbles: str) -> None:
    """Nothing ran, and no element came out of message text."""
    page.wait_for_timeout(300)  # give an injected onerror/onload the chance to fire
    assert page.evaluate("window.__pwned === undefined")
    injected = page.locator(
        f"{bubbles} img, {bubbles} script, {bubbles} svg, {bubbles} iframe, "
        f"{bubbles} a[href^='javascript']"
    )
    assert injected.count() == 0


def _login(page: Any, base: str, next_url: str, username: str, password: str) -> None:
    page.goto(f"{base}{next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def test_markup_is_text_in_the_widget_the_console_and_the_admin(
    asgi_server: str,
    reply_workers: FakeProviderServer,
    customer: Customer,
    browser: Any,
    figures: Counter[str],
) -> None:
    base = asgi_server.replace("ws://", "http://")
    anna = User.objects.create_user("anna", "anna@example.com", "anna-pw-123")
    anna.groups.add(Group.objects.get_or_create(name=SUPPORT_AGENTS)[0])
    User.objects.create_superuser("boss", "boss@example.com", "boss-pw-123")

    # The shopper types markup; the fake model echoes it back as the bot's reply.
    shop = browser.new_context().new_page()
    shop.goto(f"{base}/?as={customer.external_id}")
    shop.get_by_test_id("sbw-launcher").click()
    shop.get_by_test_id("sbw-input").fill(SHOPPER_MARKUP)
    shop.keyboard.press("Enter")
    shop.wait_for_selector(
        "[data-testid=sbw-message][data-role=bot][data-status=done]", timeout=30000
    )
    bot_text = shop.locator("[data-testid=sbw-message][data-role=bot]").last.inner_text()
    assert "<script>window.__pwned=2</script>" in bot_text
    shopper_text = shop.locator("[data-testid=sbw-message][data-role=shopper]").first
    assert '<img src=x onerror="window.__pwned=1">' in shopper_text.inner_text()

    # Then asks for a person; an agent takes over and answers with markup.
    shop.get_by_test_id("sbw-input").fill(ASK_FOR_PERSON)
    shop.keyboard.press("Enter")
    shop.locator("[data-testid=sbw-message][data-role=system]").first.wait_for(timeout=15000)
    console = browser.new_context().new_page()
    _login(console, base, "/agent/", "anna", "anna-pw-123")
    item = console.locator("[data-testid=ac-waiting] [data-testid=ac-queue-item]").first
    item.wait_for(timeout=15000)
    item.click()
    console.get_by_test_id("ac-claim").click()
    console.wait_for_selector("[data-testid=ac-state][data-state=agent]")
    console.get_by_test_id("ac-reply").fill(AGENT_MARKUP)
    console.get_by_test_id("ac-reply").press("Enter")
    console.locator("#ac-note").fill(NOTE_MARKUP)
    console.locator("#ac-note-form button").click()
    console.wait_for_selector("[data-testid=ac-notes] >> text=note")
    agent_bubble = shop.locator("[data-testid=sbw-message][data-role=agent]").first
    agent_bubble.wait_for(timeout=15000)
    assert agent_bubble.inner_text() == AGENT_MARKUP

    _safe(shop, "[data-testid=sbw-message]")
    shown = console.locator("[data-testid=ac-message]").all_inner_texts()
    assert any('<img src=x onerror="window.__pwned=1">' in text for text in shown)
    assert any("<svg onload=" in text for text in shown)
    assert NOTE_MARKUP in console.get_by_test_id("ac-notes").inner_text()
    _safe(console, "[data-testid=ac-message]")
    _safe(console, "[data-testid=ac-notes]")

    # The admin's read-only conversation page shows all of it as text.
    conversation = Conversation.objects.get(customer=customer)
    admin = browser.new_context().new_page()
    path = f"/admin/support_bot/conversation/{conversation.pk}/change/"
    _login(admin, base, path, "boss", "boss-pw-123")
    body = admin.locator("#content-main").inner_text()
    for text in (SHOPPER_MARKUP, ASK_FOR_PERSON, AGENT_MARKUP, NOTE_MARKUP):
        assert text in body
    assert "<script>window.__pwned=2</script>" in body  # the bot's echo
    # (The admin's own scripts and icons live in #content-main; the text cells must hold
    # no element but the admin's own paragraph and line breaks.)
    _safe(admin, "#content-main td.field-text")
    assert admin.locator("#content-main td.field-text *:not(p, br)").count() == 0
    figures["probes sent"] += 5
    assert Message.objects.filter(conversation=conversation, role="agent").exists()
