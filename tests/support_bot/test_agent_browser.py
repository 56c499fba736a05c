"""A handoff in Chromium, both sides at once: the shopper on the demo shop page asks for a
person, an agent takes over in the console, and the shopper rates the conversation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from orders.models import Customer
from routing.fake_provider import FakeProviderServer
from support_bot.models import CannedReply, Conversation, Message, Rating
from support_bot.services.handoff import conversation_escalate
from tests.conftest import ARTIFACTS, SUPPORT_AGENTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def wait_for(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def waiting_elsewhere(customer: Customer | None, text: str, reason: str) -> None:
    """Another shopper already in the queue (escalated by routing)."""
    conversation = Conversation.objects.create(customer=customer)
    Message.objects.create(conversation=conversation, role="shopper", text=text)
    conversation_escalate(conversation_id=conversation.pk, reasons=[reason])


def test_an_agent_takes_over_from_the_bot_and_the_shopper_rates_it(
    asgi_server: str,
    reply_workers: FakeProviderServer,
    customer: Customer,
    other_customer: Customer,
    browser: Any,
) -> None:
    base = asgi_server.replace("ws://", "http://")
    anna = User.objects.create_user("anna", "anna@example.com", "anna-password", first_name="Anna")
    anna.groups.add(Group.objects.get_or_create(name=SUPPORT_AGENTS)[0])
    ARTIFACTS.mkdir(exist_ok=True)

    # The agent (not staff) signs in on the console's own page and lands in the console.
    agent_context = browser.new_context(viewport={"width": 1440, "height": 900})
    agent_context.grant_permissions(["notifications"], origin=base)
    console = agent_context.new_page()
    console.goto(f"{base}/agent/")
    assert "/agent/login/" in console.url
    console.fill("#id_username", "anna")
    console.fill("#id_password", "anna-password")
    console.get_by_test_id("ac-signin-submit").click()
    console.wait_for_url(f"{base}/agent/")
    console.wait_for_selector("[data-testid=ac-connection][data-state=open]")
    console.get_by_test_id("ac-alerts").click()  # sound + notifications, on a user gesture

    # The shopper asks for a person.
    shop = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
    shop.goto(f"{base}/?as={customer.external_id}")
    shop.get_by_test_id("sbw-launcher").click()
    shop.get_by_test_id("sbw-input").fill("My parcel never arrived. I want to talk to a human.")
    shop.keyboard.press("Enter")
    notice = shop.locator("[data-testid=sbw-message][data-role=system]").first
    notice.wait_for(timeout=15000)
    assert "number 1 in the queue" in notice.inner_text()
    assert shop.get_by_test_id("sbw-state").inner_text() == "Waiting for a person to join…"

    # The agent sees the escalation in the queue, behind more pressing ones that routing
    # escalated meanwhile, opens it and claims it.
    queue = console.locator("[data-testid=ac-waiting] [data-testid=ac-queue-item]")
    item = queue.filter(has_text="Alice Shopper")
    item.wait_for(timeout=15000)
    assert "Asked for a person" in item.inner_text()
    waiting_elsewhere(other_customer, "I'm filing a chargeback with my bank today.", "dispute")
    waiting_elsewhere(None, "This is the third time I ask. Useless!", "sentiment:angry")
    console.wait_for_selector("[data-testid=ac-waiting-count]:has-text('3')")
    labels = [text.split("\n")[0].lower() for text in queue.all_inner_texts()]
    assert labels == ["urgent", "high", "normal"]
    item.click()
    console.wait_for_selector("[data-testid=ac-title]:has-text('Alice Shopper')")
    assert "never arrived" in console.get_by_test_id("ac-wants").inner_text()
    assert "Order 100001" in console.get_by_test_id("ac-orders").inner_text()
    console.screenshot(path=str(ARTIFACTS / "agent-queue.png"))
    console.get_by_test_id("ac-claim").click()
    console.wait_for_selector("[data-testid=ac-state][data-state=agent]")

    joined = shop.locator("[data-testid=sbw-message][data-role=system]").nth(1)
    joined.wait_for(timeout=15000)
    assert joined.inner_text() == "Anna from our support team has joined the chat."

    # The agent replies from a canned reply; the shopper sees it live and answers; the
    # agent sees that live, and the shopper's typing too.
    greeting = CannedReply.objects.get(language="en", title="Greeting").text
    console.get_by_test_id("ac-canned").select_option(label="Greeting")
    assert console.get_by_test_id("ac-reply").input_value() == greeting
    console.get_by_test_id("ac-reply").press("Enter")
    agent_message = shop.locator("[data-testid=sbw-message][data-role=agent]").first
    agent_message.wait_for(timeout=15000)
    assert agent_message.inner_text() == greeting
    shop.get_by_test_id("sbw-input").fill("Thank")
    console.get_by_test_id("ac-typing").wait_for(timeout=15000)
    shop.get_by_test_id("sbw-input").fill("Thank you, that would be great")
    shop.keyboard.press("Enter")
    console.wait_for_selector(
        "[data-testid=ac-message][data-role=shopper]:has-text('that would be great')"
    )
    console.get_by_test_id("ac-reply").fill("I've sent you a replacement; it ships tomorrow.")
    console.keyboard.press("Enter")
    shop.wait_for_selector("[data-testid=sbw-message][data-role=agent]:has-text('replacement')")
    console.locator("#ac-note").fill("Replacement order created; carrier claim opened.")
    console.locator("#ac-note-form button").click()
    console.wait_for_selector("[data-testid=ac-notes] >> text=carrier claim opened")
    console.screenshot(path=str(ARTIFACTS / "agent-console.png"))
    shop.screenshot(path=str(ARTIFACTS / "widget-agent-reply.png"))
    # The bot said nothing while Anna held the conversation.
    assert shop.locator("[data-testid=sbw-message][data-role=bot]").count() == 0

    # The agent resolves; the shopper is asked for a rating and gives one.
    console.get_by_test_id("ac-resolve").click()
    console.wait_for_selector("[data-testid=ac-state][data-state=resolved]")
    shop.get_by_test_id("sbw-rating").wait_for(timeout=15000)
    shop.get_by_test_id("sbw-rating-star").nth(4).click()
    shop.get_by_test_id("sbw-rating-comment").fill("Fast and friendly, thanks Anna!")
    shop.get_by_test_id("sbw-rating-submit").click()
    conversation = Conversation.objects.get(customer=customer, state="resolved")
    wait_for(lambda: Rating.objects.filter(conversation=conversation).exists())
    rating = Rating.objects.get(conversation=conversation)
    assert (rating.score, rating.comment) == (5, "Fast and friendly, thanks Anna!")
    console.wait_for_selector("[data-testid=ac-rating]:has-text('5/5')")
    conversation.refresh_from_db()
    assert (conversation.state, conversation.resolution) == ("resolved", "agent")
    assert conversation.assigned_agent == anna
    shop.screenshot(path=str(ARTIFACTS / "widget-rated.png"))
    console.screenshot(path=str(ARTIFACTS / "agent-console-resolved.png"))
