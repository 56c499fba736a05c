from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from orders.models import Customer, Order
from tests.factories import PolicyFactory, ShipmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client) -> Client:
    User.objects.create_superuser("boss", "boss@example.com", "boss-password")
    client.login(username="boss", password="boss-password")
    return client


def test_order_admin_finds_an_order_by_tracking_number(
    staff_client: Client, customer: Customer, other_customer: Customer
) -> None:
    order = Order.objects.get(number="100001")
    ShipmentFactory(order=order, tracking_numbers=["1ZTRACKME0001"])
    response = staff_client.get("/admin/orders/order/", {"q": "1ZTRACKME0001"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert list(response.context["cl"].result_list) == [order]


def test_order_page_shows_lines_shipments_and_payments(
    staff_client: Client, customer: Customer
) -> None:
    order = Order.objects.get(number="100001")
    ShipmentFactory(order=order, carrier="DHL")
    response = staff_client.get(f"/admin/orders/order/{order.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Trail Runner" in body and "DHL" in body


def test_late_filter_and_status_filter(staff_client: Client, customer: Customer) -> None:
    assert staff_client.get("/admin/orders/order/", {"delivery": "late"}).status_code == 200
    response = staff_client.get("/admin/orders/order/", {"status__exact": "processing"})
    assert response.context["cl"].result_count == 1


def test_editing_a_policy_in_the_admin_raises_its_version(staff_client: Client) -> None:
    policy = PolicyFactory.create(key="returns", title="Returns", body="30 days.")
    response = staff_client.post(
        f"/admin/orders/policy/{policy.pk}/change/",
        {
            "key": "returns",
            "kind": "returns",
            "title": "Returns",
            "body": "60 days now.",
            "window_days": "60",
        },
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.version, policy.body, policy.window_days) == (2, "60 days now.", 60)


def test_admin_needs_a_login(client: Client) -> None:
    response = client.get("/admin/orders/order/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
