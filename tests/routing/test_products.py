"""Questions about products are answered from the shop's catalogue: the products they
may mean go into the prompt with their price, options and stock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Customer, Product, ProductVariant
from routing import products
from routing.decisions import route_decide
from routing.products import product_facts
from support_bot.cache.keys import products_digest
from support_bot.services.replies import reply_facts, reply_messages
from tests.support_bot.test_prompt import job as reply_job

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


@pytest.fixture
def catalogue() -> None:
    specs = [
        (
            "P-1",
            "Packable Rain Jacket",
            "Apparel",
            "Three-layer waterproof shell (20,000 mm) that packs into its own chest pocket.",
            "129.00",
            [("M", "red", True), ("L", "navy", False)],
        ),
        (
            "P-2",
            "Two-Person Backpacking Tent",
            "Camping",
            "Freestanding 1.6 kg tent for two with two doors and vestibules.",
            "249.00",
            [("", "green", True)],
        ),
        (
            "P-3",
            "Merino Crew T-Shirt",
            "Apparel",
            "150 g/m² merino wool tee that resists odour.",
            "59.00",
            [("S", "grey", True), ("M", "grey", True)],
        ),
    ]
    for external_id, name, category, description, price, variants in specs:
        product = Product.objects.create(
            external_id=external_id, name=name, category=category, description=description
        )
        for n, (size, colour, available) in enumerate(variants):
            options = {"size": size, "colour": colour} if size else {"colour": colour}
            ProductVariant.objects.create(
                product=product,
                sku=f"{external_id}-{n}",
                options=options,
                price=Decimal(price),
                currency="USD",
                available=available,
            )
    products.reset()


def facts(text: str) -> list[products.ProductFact]:
    decision = route_decide(text=text, customer_known=True)
    assert decision.vector is not None
    return product_facts(decision.vector, intent=decision.intent)


def test_a_product_question_gets_that_products_facts_first(catalogue: None) -> None:
    found = facts("Is the Packable Rain Jacket waterproof?")
    assert found and found[0].name == "Packable Rain Jacket"
    line = found[0].line()
    assert "USD 129.00" in line and "20,000 mm" in line
    assert "size: M, L" in line and "colour: red, navy" in line
    assert "sold out in: L navy" in line


def test_a_recommendation_finds_the_product_that_fits(catalogue: None) -> None:
    found = facts("Can you recommend a tent for two people?")
    assert found[0].name == "Two-Person Backpacking Tent"
    assert "in stock" in found[0].line()


def test_questions_not_about_products_carry_none(catalogue: None) -> None:
    assert facts("where is my order?") == []
    assert facts("What is your return policy?") == []


def test_the_prompt_holds_the_facts_and_a_price_change_is_a_new_cache_scope(
    catalogue: None, customer: Customer
) -> None:
    text = "How much does the Packable Rain Jacket cost?"
    decision = route_decide(text=text, customer_known=True)
    job = reply_job(customer, text)
    before = reply_facts(job, text, decision=decision)
    system = reply_messages(job, decision, before)[0]["content"]
    assert "Products the question may be about" in system
    assert "Packable Rain Jacket (Apparel); USD 129.00" in system

    ProductVariant.objects.filter(product__external_id="P-1").update(price=Decimal("99.00"))
    after = reply_facts(job, text, decision=decision)
    assert "USD 99.00" in reply_messages(job, decision, after)[0]["content"]
    assert products_digest(before.products) != products_digest(after.products) != ""


def test_an_empty_catalogue_gives_no_facts() -> None:
    products.reset()
    assert facts("Is the Packable Rain Jacket waterproof?") == []
