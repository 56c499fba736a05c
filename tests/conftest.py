from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User

from orders.models import Customer
from tests.factories import CustomerFactory, OrderFactory, OrderLineFactory

SUPPORT_AGENTS = "Support agents"


@pytest.fixture
def customer(db: Any) -> Customer:
    customer = CustomerFactory.create(
        external_id="C-1", name="Alice Shopper", email="alice@example.com"
    )
    order = OrderFactory(customer=customer, number="100001")
    OrderLineFactory(order=order)
    return customer


@pytest.fixture
def other_customer(db: Any) -> Customer:
    other = CustomerFactory.create(external_id="C-2", name="Bob Other", email="bob@example.org")
    order = OrderFactory(customer=other, number="200002")
    OrderLineFactory(order=order, product_name="Rain Jacket")
    return other


@pytest.fixture
def agent(db: Any) -> User:
    group, _ = Group.objects.get_or_create(name=SUPPORT_AGENTS)
    user = User.objects.create_user("agent", "agent@example.com", "agent-password", is_staff=True)
    user.groups.add(group)
    return user
