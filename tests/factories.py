from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from orders.models import Customer, Order, OrderLine, Payment, Policy, Shipment


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C-{5000 + n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    postal_code = factory.Sequence(lambda n: f"{10000 + n}")
    language = "en"
    created_at = factory.LazyFunction(timezone.now)


class OrderFactory(factory.django.DjangoModelFactory[Order]):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"{700000 + n}")
    customer = factory.SubFactory(CustomerFactory)
    status = Order.Status.PROCESSING
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    currency = "USD"
    subtotal = Decimal("50.00")
    total = Decimal("54.95")
    shipping_total = Decimal("4.95")
    ship_name = factory.SelfAttribute("customer.name")
    ship_postal_code = factory.SelfAttribute("customer.postal_code")


class OrderLineFactory(factory.django.DjangoModelFactory[OrderLine]):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    line_id = factory.Sequence(lambda n: f"L{n}")
    product_name = "Trail Runner"
    options = factory.LazyFunction(lambda: {"size": "42", "colour": "blue"})
    quantity = 1
    unit_price = Decimal("50.00")


class ShipmentFactory(factory.django.DjangoModelFactory[Shipment]):
    class Meta:
        model = Shipment

    external_id = factory.Sequence(lambda n: f"SH-{n}")
    order = factory.SubFactory(OrderFactory)
    carrier = "UPS"
    tracking_numbers = factory.Sequence(lambda n: [f"1Z999AA1{n:010d}"])
    status = Shipment.Status.IN_TRANSIT
    shipped_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    estimated_delivery = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=2))


class PaymentFactory(factory.django.DjangoModelFactory[Payment]):
    class Meta:
        model = Payment

    external_id = factory.Sequence(lambda n: f"PAY-{n}")
    order = factory.SubFactory(OrderFactory)
    kind = Payment.Kind.PAYMENT
    method = Payment.Method.CARD
    amount = Decimal("54.95")
    currency = "USD"
    status = Payment.Status.SUCCEEDED
    created_at = factory.LazyFunction(timezone.now)


class PolicyFactory(factory.django.DjangoModelFactory[Policy]):
    class Meta:
        model = Policy

    key = factory.Sequence(lambda n: f"policy-{n}")
    kind = Policy.Kind.RETURNS
    title = "Returns"
    body = "You can return unworn items within 30 days of delivery."
    window_days = 30
    updated_at = factory.LazyFunction(timezone.now)
