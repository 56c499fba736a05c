from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from orders.models import (
    Customer,
    Order,
    OrderLine,
    Payment,
    Policy,
    Product,
    ProductVariant,
    Shipment,
)
from orders.services.policies import policy_save


class OrderInline(admin.TabularInline):
    model = Order
    fields = ("number", "status", "placed_at", "total", "currency")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-placed_at",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "email", "postal_code", "language", "created_at")
    search_fields = ("name", "external_id", "email", "phone", "postal_code")
    list_filter = ("language",)
    date_hierarchy = "created_at"
    inlines = [OrderInline]


class VariantInline(admin.TabularInline):
    model = ProductVariant
    extra = 0


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "category")
    search_fields = ("name", "external_id", "variants__sku")
    list_filter = ("category",)
    inlines = [VariantInline]


@admin.register(ProductVariant)
class ProductVariantAdmin(admin.ModelAdmin):
    list_display = ("sku", "product", "options", "price", "currency", "available")
    search_fields = ("sku", "product__name")
    list_filter = ("available", "currency")
    list_select_related = ("product",)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ("line_id", "product_name", "sku", "options", "quantity", "unit_price", "status")
    extra = 0
    raw_id_fields = ("variant",)


class ShipmentInline(admin.StackedInline):
    model = Shipment
    extra = 0
    filter_horizontal = ("lines",)


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0


class LateShipmentFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("late", "Late (past its estimate, not delivered)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() == "late":
            return queryset.filter(
                shipments__estimated_delivery__lt=timezone.localdate(),
                shipments__delivered_at__isnull=True,
            ).distinct()
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "customer", "status", "placed_at", "total", "currency")
    list_filter = (
        "status",
        "currency",
        LateShipmentFilter,
        ("placed_at", admin.DateFieldListFilter),
    )
    search_fields = (
        "number",
        "customer__name",
        "customer__email",
        "customer__external_id",
        "shipments__tracking_numbers",
        "ship_postal_code",
    )
    date_hierarchy = "placed_at"
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)
    inlines = [OrderLineInline, ShipmentInline, PaymentInline]
    fieldsets = (
        (None, {"fields": ("number", "customer", "status", "placed_at")}),
        (
            "Totals",
            {
                "fields": (
                    "currency",
                    "subtotal",
                    "shipping_total",
                    "tax_total",
                    "discount_total",
                    "total",
                )
            },
        ),
        (
            "Shipping address",
            {
                "fields": (
                    "ship_name",
                    "ship_line1",
                    "ship_line2",
                    "ship_city",
                    "ship_region",
                    "ship_postal_code",
                    "ship_country",
                )
            },
        ),
    )


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "order",
        "carrier",
        "status",
        "shipped_at",
        "estimated_delivery",
        "delivered_at",
    )
    list_filter = ("carrier", "status")
    search_fields = ("external_id", "tracking_numbers", "order__number")
    list_select_related = ("order",)
    raw_id_fields = ("order",)
    filter_horizontal = ("lines",)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = (
        "external_id",
        "order",
        "kind",
        "method",
        "amount",
        "currency",
        "status",
        "created_at",
    )
    list_filter = ("kind", "method", "status")
    search_fields = ("external_id", "order__number", "method_detail")
    list_select_related = ("order",)
    raw_id_fields = ("order",)


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ("title", "key", "kind", "window_days", "version", "updated_at")
    list_filter = ("kind",)
    search_fields = ("title", "body", "key")
    readonly_fields = ("version", "updated_at")

    def save_model(self, request: HttpRequest, obj: Policy, form: object, change: bool) -> None:
        policy_save(policy=obj, is_new=not change)
