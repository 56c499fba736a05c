"""The shop's own data: customers, catalogue, orders and what happened to them.

Every row that arrives from the shop carries the shop's own identifier (``external_id``,
``number``, ``sku``) so that imports upsert instead of duplicating. Money is Decimal
with the currency on the row; times are timezone-aware.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q


def money_field(**options: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=2, **options)


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    GERMAN = "de", "German"
    FRENCH = "fr", "French"
    SPANISH = "es", "Spanish"


class Customer(models.Model):
    external_id = models.CharField(max_length=100, unique=True, help_text="The shop's own id.")
    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, db_index=True)
    phone = models.CharField(max_length=40, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.ENGLISH)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Product(models.Model):
    external_id = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductVariant(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    sku = models.CharField(max_length=100, unique=True)
    options = models.JSONField(default=dict, blank=True, help_text='e.g. {"colour": "red"}')
    price = money_field()
    currency = models.CharField(max_length=3)
    available = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="variant_price_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.product.name} {self.options_text}".strip()

    @property
    def options_text(self) -> str:
        return ", ".join(f"{key}: {value}" for key, value in self.options.items())


class Address(models.Model):
    """A postal address, abstract so that each order keeps its own copy as placed."""

    ship_name = models.CharField("recipient", max_length=200, blank=True)
    ship_line1 = models.CharField("address line 1", max_length=200, blank=True)
    ship_line2 = models.CharField("address line 2", max_length=200, blank=True)
    ship_city = models.CharField("city", max_length=100, blank=True)
    ship_region = models.CharField("region", max_length=100, blank=True)
    ship_postal_code = models.CharField("postal code", max_length=20, blank=True)
    ship_country = models.CharField("country", max_length=100, blank=True)

    class Meta:
        abstract = True


class Order(Address):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SHIPPED = "shipped", "Shipped"
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        RETURNED = "returned", "Returned"
        PARTIALLY_RETURNED = "partially_returned", "Partially returned"
        EXCHANGED = "exchanged", "Exchanged"

    number = models.CharField(max_length=50, unique=True, help_text="As the shop shows it.")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=24, choices=Status.choices)
    placed_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    subtotal = money_field()
    shipping_total = money_field(default=0)
    tax_total = money_field(default=0)
    discount_total = money_field(default=0)
    total = money_field()

    class Meta:
        ordering = ["-placed_at"]
        indexes = [models.Index(fields=["customer", "-placed_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative")
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def shipping_address(self) -> str:
        parts = [
            self.ship_name,
            self.ship_line1,
            self.ship_line2,
            f"{self.ship_postal_code} {self.ship_city}".strip(),
            self.ship_region,
            self.ship_country,
        ]
        return ", ".join(part for part in parts if part)


class OrderLine(models.Model):
    class Status(models.TextChoices):
        ORDERED = "ordered", "Ordered"
        SHIPPED = "shipped", "Shipped"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"
        RETURN_REQUESTED = "return_requested", "Return requested"
        RETURNED = "returned", "Returned"
        EXCHANGED = "exchanged", "Exchanged"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    line_id = models.CharField(max_length=100, help_text="The shop's id for this line.")
    variant = models.ForeignKey(
        ProductVariant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What was sold, as it was sold: the catalogue may change afterwards.
    sku = models.CharField(max_length=100, blank=True)
    product_name = models.CharField(max_length=200)
    options = models.JSONField(default=dict, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = money_field()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ORDERED)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_id"], name="order_line_unique_id"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_price_not_negative"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_name}"


class Shipment(models.Model):
    class Status(models.TextChoices):
        LABEL_CREATED = "label_created", "Label created"
        IN_TRANSIT = "in_transit", "In transit"
        OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
        DELIVERED = "delivered", "Delivered"
        EXCEPTION = "exception", "Delivery problem"
        RETURNED = "returned", "Returned to sender"

    external_id = models.CharField(max_length=100, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(max_length=60)
    tracking_numbers = models.JSONField(default=list, blank=True)
    lines = models.ManyToManyField(OrderLine, related_name="shipments", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    shipped_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "shipped_at", "id"]

    def __str__(self) -> str:
        return f"{self.carrier} {', '.join(self.tracking_numbers)}".strip()


class Payment(models.Model):
    """Money moving for an order: a payment in, or a refund out (``kind``)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"

    class Method(models.TextChoices):
        CARD = "card", "Card"
        GIFT_CARD = "gift_card", "Gift card"
        PAYPAL = "paypal", "PayPal"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        APPLE_PAY = "apple_pay", "Apple Pay"
        GOOGLE_PAY = "google_pay", "Google Pay"
        KLARNA = "klarna", "Klarna"
        STORE_CREDIT = "store_credit", "Store credit"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    external_id = models.CharField(max_length=100, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    method = models.CharField(max_length=20, choices=Method.choices)
    method_detail = models.CharField(
        max_length=100, blank=True, help_text="e.g. 'Visa ending 4242'"
    )
    amount = money_field()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=12, choices=Status.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"


class Policy(models.Model):
    """A shop policy as shoppers may read it. ``version`` rises on every edit of the text."""

    class Kind(models.TextChoices):
        RETURNS = "returns", "Returns"
        SHIPPING = "shipping", "Shipping"
        WARRANTY = "warranty", "Warranty"
        PAYMENT = "payment", "Payment"
        PRIVACY = "privacy", "Privacy"
        OTHER = "other", "Other"

    key = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField()
    window_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="For returns or warranty: how many days it runs."
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "title"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.title
