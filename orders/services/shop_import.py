"""Importing a shop's data from its JSON export.

All or nothing: the whole file is validated (schema, then cross-record checks) before the
first write, and the writes run in one transaction. Records are upserted by the shop's
own ids with bulk statements, so a second import of the same file changes nothing and
1,000 orders take seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from orders.import_schema import (
    OrderRecord,
    ShopFile,
    ShopImportError,
    parse_shop_file,
)
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

Progress = Callable[[str, int, int], None]
M = TypeVar("M", bound=Model)

BATCH = 1000


@dataclass
class ImportSummary:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [
            f"{kind}: {self.created.get(kind, 0)} new, {self.updated.get(kind, 0)} already known"
            for kind in ("customers", "products", "variants", "orders", "policies")
        ]
        return "; ".join(parts)


def shop_import_file(
    *, path: Path, max_bytes: int | None = None, progress: Progress | None = None
) -> ImportSummary:
    """Import a shop export from ``path``; raise ShopImportError and change nothing if bad."""
    limit = settings.SHOP_IMPORT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ShopImportError([f"(file): cannot read {path}: {exc.strerror}"]) from None
    if size > limit:
        raise ShopImportError(
            [
                f"(file): {size / 1_048_576:.1f} MB is over the import limit of "
                f"{limit / 1_048_576:.0f} MB (SHOP_IMPORT_MAX_MB); split the file"
            ]
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise ShopImportError(["(file): not UTF-8 text"]) from None
    except json.JSONDecodeError as exc:
        raise ShopImportError(
            [f"(file): broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None
    return shop_import(data=data, progress=progress)


def shop_import(*, data: Any, progress: Progress | None = None) -> ImportSummary:
    """Import decoded JSON (or an already validated ShopFile)."""
    shop = data if isinstance(data, ShopFile) else parse_shop_file(data)
    with transaction.atomic():
        # Checked inside the transaction: a customer deleted meanwhile cannot slip past.
        _check_references(shop)
        return _write(shop, progress or (lambda stage, done, total: None))


def _duplicates(label: str, keys: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    errors = []
    for index, key in enumerate(keys):
        if key in seen:
            errors.append(f"{label}[{index}]: duplicate id {key!r} (also {label}[{seen[key]}])")
        else:
            seen[key] = index
    return errors


def _check_references(shop: ShopFile) -> None:
    errors: list[str] = []
    errors += _duplicates("customers", (c.id for c in shop.customers))
    errors += _duplicates("products", (p.id for p in shop.products))
    errors += _duplicates("orders", (o.number for o in shop.orders))
    errors += _duplicates("policies", (p.key for p in shop.policies))
    skus: dict[str, str] = {}
    for p_index, product in enumerate(shop.products):
        for v_index, variant in enumerate(product.variants):
            where = f"products[{p_index}].variants[{v_index}]"
            if variant.sku in skus:
                errors.append(
                    f"{where}.sku: duplicate sku {variant.sku!r} (also {skus[variant.sku]})"
                )
            skus[variant.sku] = where

    file_customers = {c.id for c in shop.customers}
    wanted = {o.customer for o in shop.orders} - file_customers
    known = set(
        Customer.objects.filter(external_id__in=wanted).values_list("external_id", flat=True)
    )
    shipment_ids: dict[str, str] = {}
    payment_ids: dict[str, str] = {}
    for o_index, order in enumerate(shop.orders):
        where = f"orders[{o_index}]"
        if order.customer not in file_customers and order.customer not in known:
            errors.append(f"{where}.customer: unknown customer {order.customer!r}")
        errors += _check_order(where, order, shipment_ids, payment_ids)
    if errors:
        raise ShopImportError(errors)


def _check_order(
    where: str, order: OrderRecord, shipment_ids: dict[str, str], payment_ids: dict[str, str]
) -> list[str]:
    errors = _duplicates(f"{where}.lines", (line.id for line in order.lines))
    line_ids = {line.id for line in order.lines}
    for s_index, shipment in enumerate(order.shipments):
        here = f"{where}.shipments[{s_index}]"
        if shipment.id in shipment_ids:
            errors.append(
                f"{here}.id: duplicate id {shipment.id!r} (also {shipment_ids[shipment.id]})"
            )
        shipment_ids[shipment.id] = here
        for l_index, line_id in enumerate(shipment.lines):
            if line_id not in line_ids:
                errors.append(f"{here}.lines[{l_index}]: no line {line_id!r} in this order")
    for p_index, payment in enumerate(order.payments):
        here = f"{where}.payments[{p_index}]"
        if payment.id in payment_ids:
            errors.append(
                f"{here}.id: duplicate id {payment.id!r} (also {payment_ids[payment.id]})"
            )
        payment_ids[payment.id] = here
        if payment.currency is not None and payment.currency != order.currency:
            errors.append(
                f"{here}.currency: {payment.currency} differs from the order's {order.currency}"
            )
    return errors


def _upsert(
    model: type[M],
    rows: Sequence[M],
    *,
    unique: list[str],
    update: list[str],
) -> None:
    for start in range(0, len(rows), BATCH):
        model.objects.bulk_create(  # type: ignore[attr-defined]
            rows[start : start + BATCH],
            update_conflicts=True,
            unique_fields=unique,
            update_fields=update,
        )


def _existing(model: type[Model], key: str, values: Iterable[str]) -> dict[str, Any]:
    wanted = list(values)
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        for obj in model._default_manager.filter(**{f"{key}__in": chunk}):
            found[getattr(obj, key)] = obj
    return found


def _write(shop: ShopFile, progress: Progress) -> ImportSummary:
    summary = ImportSummary()
    now = timezone.now()
    _write_customers(shop, now, summary)
    _write_catalogue(shop, summary)
    _write_orders(shop, summary, progress)
    _write_policies(shop, now, summary)
    return summary


def _count(summary: ImportSummary, kind: str, existing: dict[str, Any], keys: list[str]) -> None:
    summary.created[kind] = sum(1 for key in keys if key not in existing)
    summary.updated[kind] = len(keys) - summary.created[kind]


def _write_customers(shop: ShopFile, now: Any, summary: ImportSummary) -> None:
    existing = _existing(Customer, "external_id", (c.id for c in shop.customers))
    rows = [
        Customer(
            external_id=c.id,
            name=c.name,
            email=str(c.email),
            phone=c.phone,
            postal_code=c.postal_code,
            language=c.language,
            # A file that does not say when a customer was created keeps the date we have.
            created_at=c.created_at or getattr(existing.get(c.id), "created_at", None) or now,
        )
        for c in shop.customers
    ]
    _upsert(
        Customer,
        rows,
        unique=["external_id"],
        update=["name", "email", "phone", "postal_code", "language", "created_at"],
    )
    _count(summary, "customers", existing, [c.id for c in shop.customers])


def _write_catalogue(shop: ShopFile, summary: ImportSummary) -> None:
    existing = _existing(Product, "external_id", (p.id for p in shop.products))
    _upsert(
        Product,
        [
            Product(external_id=p.id, name=p.name, category=p.category, description=p.description)
            for p in shop.products
        ],
        unique=["external_id"],
        update=["name", "category", "description"],
    )
    _count(summary, "products", existing, [p.id for p in shop.products])
    product_pk = dict(
        Product.objects.filter(external_id__in=[p.id for p in shop.products]).values_list(
            "external_id", "pk"
        )
    )
    variants = [
        ProductVariant(
            product_id=product_pk[p.id],
            sku=v.sku,
            options=v.options,
            price=v.price,
            currency=v.currency,
            available=v.available,
        )
        for p in shop.products
        for v in p.variants
    ]
    existing_variants = _existing(ProductVariant, "sku", (v.sku for v in variants))
    _upsert(
        ProductVariant,
        variants,
        unique=["sku"],
        update=["product", "options", "price", "currency", "available"],
    )
    _count(summary, "variants", existing_variants, [v.sku for v in variants])


def _write_orders(shop: ShopFile, summary: ImportSummary, progress: Progress) -> None:
    orders = shop.orders
    existing = _existing(Order, "number", (o.number for o in orders))
    _count(summary, "orders", existing, [o.number for o in orders])
    customer_pk = dict(
        Customer.objects.filter(external_id__in={o.customer for o in orders}).values_list(
            "external_id", "pk"
        )
    )
    total = len(orders)
    progress("orders", 0, total)
    for start in range(0, total, BATCH):
        chunk = orders[start : start + BATCH]
        _write_order_chunk(chunk, customer_pk)
        progress("orders", min(start + BATCH, total), total)


def _write_order_chunk(chunk: list[OrderRecord], customer_pk: dict[str, int]) -> None:
    _upsert(
        Order,
        [_order_row(o, customer_pk[o.customer]) for o in chunk],
        unique=["number"],
        update=[
            "customer",
            "status",
            "placed_at",
            "currency",
            "subtotal",
            "shipping_total",
            "tax_total",
            "discount_total",
            "total",
            "ship_name",
            "ship_line1",
            "ship_line2",
            "ship_city",
            "ship_region",
            "ship_postal_code",
            "ship_country",
        ],
    )
    order_pk = dict(
        Order.objects.filter(number__in=[o.number for o in chunk]).values_list("number", "pk")
    )
    _write_lines(chunk, order_pk)
    _write_shipments(chunk, order_pk)
    _write_payments(chunk, order_pk)


def _order_row(o: OrderRecord, customer_id: int) -> Order:
    address = o.shipping_address
    return Order(
        number=o.number,
        customer_id=customer_id,
        status=o.status,
        placed_at=o.placed_at,
        currency=o.currency,
        subtotal=o.subtotal or Decimal("0"),
        shipping_total=o.shipping_total,
        tax_total=o.tax_total,
        discount_total=o.discount_total,
        total=o.total or Decimal("0"),
        ship_name=address.name,
        ship_line1=address.line1,
        ship_line2=address.line2,
        ship_city=address.city,
        ship_region=address.region,
        ship_postal_code=address.postal_code,
        ship_country=address.country,
    )


def _write_lines(chunk: list[OrderRecord], order_pk: dict[str, int]) -> None:
    skus = {line.sku for o in chunk for line in o.lines if line.sku}
    variant_pk = dict(ProductVariant.objects.filter(sku__in=skus).values_list("sku", "pk"))
    rows = [
        OrderLine(
            order_id=order_pk[o.number],
            line_id=line.id,
            variant_id=variant_pk.get(line.sku),
            sku=line.sku,
            product_name=line.name,
            options=line.options,
            quantity=line.quantity,
            unit_price=line.unit_price,
            status=line.status,
        )
        for o in chunk
        for line in o.lines
    ]
    _upsert(
        OrderLine,
        rows,
        unique=["order", "line_id"],
        update=["variant", "sku", "product_name", "options", "quantity", "unit_price", "status"],
    )
    _delete_unlisted(
        OrderLine, order_pk, "line_id", {(o.number, line.id) for o in chunk for line in o.lines}
    )


def _write_shipments(chunk: list[OrderRecord], order_pk: dict[str, int]) -> None:
    rows = [
        Shipment(
            external_id=s.id,
            order_id=order_pk[o.number],
            carrier=s.carrier,
            tracking_numbers=s.tracking_numbers,
            status=s.status,
            shipped_at=s.shipped_at,
            estimated_delivery=s.estimated_delivery,
            delivered_at=s.delivered_at,
        )
        for o in chunk
        for s in o.shipments
    ]
    _upsert(
        Shipment,
        rows,
        unique=["external_id"],
        update=[
            "order",
            "carrier",
            "tracking_numbers",
            "status",
            "shipped_at",
            "estimated_delivery",
            "delivered_at",
        ],
    )
    pks = list(order_pk.values())
    _delete_unlisted(
        Shipment, order_pk, "external_id", {(o.number, s.id) for o in chunk for s in o.shipments}
    )
    shipment_pk = dict(Shipment.objects.filter(order_id__in=pks).values_list("external_id", "pk"))
    line_pk = {
        (order_id, line_id): pk
        for order_id, line_id, pk in OrderLine.objects.filter(order_id__in=pks).values_list(
            "order_id", "line_id", "pk"
        )
    }
    wanted = {
        (shipment_pk[s.id], line_pk[(order_pk[o.number], line_id)])
        for o in chunk
        for s in o.shipments
        for line_id in s.lines
    }
    through = Shipment.lines.through
    current = {
        (shipment_id, line_id): pk
        for pk, shipment_id, line_id in through.objects.filter(
            shipment_id__in=shipment_pk.values()
        ).values_list("pk", "shipment_id", "orderline_id")
    }
    stale = [pk for key, pk in current.items() if key not in wanted]
    through.objects.filter(pk__in=stale).delete()
    through.objects.bulk_create(
        [through(shipment_id=s, orderline_id=line) for s, line in wanted - current.keys()],
        batch_size=BATCH,
    )


def _write_payments(chunk: list[OrderRecord], order_pk: dict[str, int]) -> None:
    rows = [
        Payment(
            external_id=p.id,
            order_id=order_pk[o.number],
            kind=p.kind,
            method=p.method,
            method_detail=p.method_detail,
            amount=p.amount,
            currency=p.currency or o.currency,
            status=p.status,
            created_at=p.created_at,
        )
        for o in chunk
        for p in o.payments
    ]
    _upsert(
        Payment,
        rows,
        unique=["external_id"],
        update=[
            "order",
            "kind",
            "method",
            "method_detail",
            "amount",
            "currency",
            "status",
            "created_at",
        ],
    )
    _delete_unlisted(
        Payment, order_pk, "external_id", {(o.number, p.id) for o in chunk for p in o.payments}
    )


def _delete_unlisted(
    model: type[Model], order_pk: dict[str, int], key: str, listed: set[tuple[str, str]]
) -> None:
    """The file is the truth for each order it contains: children it no longer lists go."""
    number_of = {pk: number for number, pk in order_pk.items()}
    rows = model._default_manager.filter(order_id__in=order_pk.values()).values_list(
        "pk", "order_id", key
    )
    stale = [pk for pk, order_id, value in rows if (number_of[order_id], value) not in listed]
    if stale:
        model._default_manager.filter(pk__in=stale).delete()


def _write_policies(shop: ShopFile, now: Any, summary: ImportSummary) -> None:
    existing: dict[str, Policy] = _existing(Policy, "key", (p.key for p in shop.policies))
    rows = []
    for record in shop.policies:
        old = existing.get(record.key)
        same = old is not None and (old.title, old.body, old.kind, old.window_days) == (
            record.title,
            record.body,
            record.kind,
            record.window_days,
        )
        rows.append(
            Policy(
                key=record.key,
                kind=record.kind,
                title=record.title,
                body=record.body,
                window_days=record.window_days,
                # Answers cached under a policy version must not survive an edit of it.
                version=old.version if old and same else (old.version + 1 if old else 1),
                updated_at=old.updated_at if old and same else now,
            )
        )
    _upsert(
        Policy,
        rows,
        unique=["key"],
        update=["kind", "title", "body", "window_days", "version", "updated_at"],
    )
    _count(summary, "policies", existing, [p.key for p in shop.policies])
