"""Reading the shop's data."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model
from django.db.models.expressions import Col

from orders.models import Customer, Order, OrderLine, Payment, Shipment


def customer_get(*, external_id: str) -> Customer | None:
    return Customer.objects.filter(external_id=external_id).first()


def order_owner_for_verification(*, order_number: str, contact: str) -> Customer | None:
    """The order's customer if ``contact`` is the email or postal code on the order."""
    number = order_number.strip().lstrip("#")
    contact = contact.strip()
    if not number or not contact:
        return None
    order = (
        Order.objects.select_related("customer").filter(number__in={number, f"#{number}"}).first()
    )
    if order is None:
        return None
    customer = order.customer
    normalise = _postal
    if contact.casefold() == customer.email.casefold():
        return customer
    postcodes = {normalise(customer.postal_code), normalise(order.ship_postal_code)} - {""}
    return customer if normalise(contact) in postcodes else None


def _postal(code: str) -> str:
    return "".join(code.split()).upper()


# What the model's context and tier-0 answers read of an order and the records under it.
# Both run on a reply's critical path, so the statements are written out: through the ORM,
# building and compiling them took twice what the database takes to run them (see
# ``bench/queries.py``). Parameters only; the tables and columns are the models'.
_READ_ORDER_FIELDS = (
    "id",
    "number",
    "status",
    "placed_at",
    "currency",
    "total",
    "subtotal",
    "shipping_total",
    "tax_total",
    "discount_total",
    "ship_city",
)
_READ_LINE_FIELDS = (
    "id",
    "order_id",
    "line_id",
    "product_name",
    "options",
    "quantity",
    "unit_price",
    "status",
)
_READ_SHIPMENT_FIELDS = (
    "id",
    "order_id",
    "carrier",
    "tracking_numbers",
    "status",
    "estimated_delivery",
    "delivered_at",
)
_READ_PAYMENT_FIELDS = (
    "order_id",
    "kind",
    "method",
    "method_detail",
    "amount",
    "currency",
    "status",
    "created_at",
)


class _Rows:
    """``values()`` rows of one model's fields from a written-out statement: the same
    dicts, with the same conversions (decimals at their field's places, aware datetimes,
    decoded JSON), as the ORM's on either database."""

    def __init__(self, model: type[Model], fields: tuple[str, ...]) -> None:
        self.table = model._meta.db_table
        self.fields = tuple(cast(Field, model._meta.get_field(name)) for name in fields)
        self.names = fields
        self.columns = ", ".join(f"{self.table}.{field.column}" for field in self.fields)
        self._converters: dict[str, list[tuple[int, list[Any], Col]]] = {}

    def read(
        self,
        clauses: str,
        params: Sequence[Any],
        *,
        more: str = "",
        extra: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """``SELECT`` this reader's columns (and the ``more`` columns, named ``extra``,
        left as the database returns them) ``FROM`` its table, then ``clauses``."""
        # Only column names, table names and placeholders are interpolated; every value
        # is a parameter.
        sql = f"SELECT {self.columns}{more} FROM {self.table} {clauses}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        converters = self._converters_for()
        names = self.names + extra
        found = []
        for row in rows:
            values = list(row)
            for position, functions, column in converters:
                for function in functions:
                    values[position] = function(values[position], column, connection)
            found.append(dict(zip(names, values, strict=True)))
        return found

    def _converters_for(self) -> list[tuple[int, list[Any], Col]]:
        known = self._converters.get(connection.vendor)
        if known is None:
            known = []
            for position, field in enumerate(self.fields):
                column = field.get_col(self.table)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if functions:
                    known.append((position, functions, column))
            self._converters[connection.vendor] = known
        return known


def _placeholders(values: Collection[object]) -> str:
    return ", ".join(["%s"] * len(values))


_ORDERS = _Rows(Order, _READ_ORDER_FIELDS)
_LINES = _Rows(OrderLine, _READ_LINE_FIELDS)
_SHIPMENTS = _Rows(Shipment, _READ_SHIPMENT_FIELDS)
_PAYMENTS = _Rows(Payment, _READ_PAYMENT_FIELDS)
_CARRIED_TABLE = Shipment.lines.through._meta.db_table


def order_list_for_context(
    *, customer_id: int, numbers: Collection[str] = (), limit: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """The customer's orders for the model's context, and how many orders they have in all.

    The newest ``limit`` orders, preceded by any of theirs whose number is in ``numbers``
    (an old order the shopper names is loaded even beyond ``limit``), each a dict of its
    fields with its ``lines``, ``shipments`` (each with the ``line_ids`` it carries) and
    ``payments``: five queries, however many orders. Only this customer's orders are ever
    read, whatever ``numbers`` holds.
    """
    numbers = list(numbers)
    named = f"CASE WHEN number IN ({_placeholders(numbers)}) THEN 1 ELSE 0 END" if numbers else "0"
    orders = _ORDERS.read(
        "WHERE customer_id = %s ORDER BY named DESC, placed_at DESC, id DESC LIMIT %s",
        [*numbers, customer_id, limit],
        # Counted in the same statement, so that "N other orders not listed" costs nothing.
        more=f", COUNT(*) OVER (), {named} AS named",
        extra=("order_count", "named"),
    )
    if not orders:
        return [], 0
    return _with_records(orders, lines=True), int(orders[0]["order_count"])


def order_list_for_answers(*, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The customer's newest ``limit`` orders for a tier-0 answer, newest first: each a
    dict of its fields with its ``shipments`` and ``payments`` (three queries)."""
    orders = _ORDERS.read(
        "WHERE customer_id = %s ORDER BY placed_at DESC, id DESC LIMIT %s", [customer_id, limit]
    )
    return _with_records(orders, lines=False)


def _with_records(orders: list[dict[str, Any]], *, lines: bool) -> list[dict[str, Any]]:
    """``orders`` (``values()`` rows) with their shipments and payments attached, and
    their lines (and the line ids each shipment carries) if asked for."""
    if not orders:
        return orders
    by_id = {order["id"]: order for order in orders}
    for order in orders:
        order.update(lines=[], shipments=[], payments=[])
    ids = list(by_id)
    among = f"order_id IN ({_placeholders(ids)})"
    if lines:
        for line in _LINES.read(f"WHERE {among} ORDER BY id", ids):
            by_id[line["order_id"]]["lines"].append(line)
    shipments = {}
    # Parcels not yet shipped last (a portable NULLS LAST).
    for shipment in _SHIPMENTS.read(
        f"WHERE {among} ORDER BY shipped_at IS NULL, shipped_at, id", ids
    ):
        shipment["line_ids"] = []
        shipments[shipment["id"]] = shipment
        by_id[shipment["order_id"]]["shipments"].append(shipment)
    if lines and shipments:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT carried.shipment_id, line.line_id FROM {_CARRIED_TABLE} carried"  # noqa: S608
                f" JOIN {_LINES.table} line ON line.id = carried.orderline_id"
                f" WHERE carried.shipment_id IN ({_placeholders(shipments)})"
                " ORDER BY carried.orderline_id",
                list(shipments),
            )
            for shipment_id, line_id in cursor.fetchall():
                shipments[shipment_id]["line_ids"].append(line_id)
    for payment in _PAYMENTS.read(f"WHERE {among} ORDER BY created_at, id", ids):
        by_id[payment["order_id"]]["payments"].append(payment)
    return orders
