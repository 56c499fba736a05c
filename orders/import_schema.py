"""The shop import file, as typed records.

The file is one JSON object with the lists ``customers``, ``products``, ``orders`` and
``policies`` (each optional). docs/import.md documents it for shops. Validation happens
here, before anything touches the database, so that a bad file changes nothing.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from orders.models import Language, Order, OrderLine, Payment, Policy, Shipment

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("not a finite amount")
    # Size first: quantizing a huge number overflows the decimal context.
    if value.copy_abs() >= Decimal("1e10"):
        raise ValueError("is too large")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("has more than two decimal places")
    return value


Money = Annotated[Decimal, Field(ge=0), AfterValidator(_two_places)]
Options = dict[
    Annotated[str, StringConstraints(max_length=60)],
    Annotated[str, StringConstraints(max_length=120)],
]


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerRecord(Record):
    id: Id
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: EmailStr
    phone: Annotated[str, StringConstraints(max_length=40)] = ""
    postal_code: Annotated[str, StringConstraints(max_length=20)] = ""
    language: Language = Language.ENGLISH
    created_at: AwareDatetime | None = None


class VariantRecord(Record):
    sku: Id
    options: Options = {}
    price: Money
    currency: Currency
    available: bool = True


class ProductRecord(Record):
    id: Id
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    category: Annotated[str, StringConstraints(max_length=100)] = ""
    description: str = ""
    variants: list[VariantRecord] = []


class AddressRecord(Record):
    name: Text200 = ""
    line1: Text200 = ""
    line2: Text200 = ""
    city: Annotated[str, StringConstraints(max_length=100)] = ""
    region: Annotated[str, StringConstraints(max_length=100)] = ""
    postal_code: Annotated[str, StringConstraints(max_length=20)] = ""
    country: Annotated[str, StringConstraints(max_length=100)] = ""


class LineRecord(Record):
    id: Id
    sku: Annotated[str, StringConstraints(max_length=100)] = ""
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    options: Options = {}
    quantity: Annotated[int, Field(ge=1, le=100_000)]
    unit_price: Money
    status: OrderLine.Status = OrderLine.Status.ORDERED


class ShipmentRecord(Record):
    id: Id
    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    tracking_numbers: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = []
    lines: list[Id] = []
    status: Shipment.Status
    shipped_at: AwareDatetime | None = None
    estimated_delivery: date | None = None
    delivered_at: AwareDatetime | None = None


class PaymentRecord(Record):
    id: Id
    kind: Payment.Kind = Payment.Kind.PAYMENT
    method: Payment.Method
    method_detail: Annotated[str, StringConstraints(max_length=100)] = ""
    amount: Money
    currency: Currency | None = None
    status: Payment.Status = Payment.Status.SUCCEEDED
    created_at: AwareDatetime


class OrderRecord(Record):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
    customer: Id
    status: Order.Status
    placed_at: AwareDatetime
    currency: Currency
    subtotal: Money | None = None
    shipping_total: Money = Decimal("0")
    tax_total: Money = Decimal("0")
    discount_total: Money = Decimal("0")
    total: Money | None = None
    shipping_address: AddressRecord = AddressRecord()
    lines: list[LineRecord] = Field(min_length=1)
    shipments: list[ShipmentRecord] = []
    payments: list[PaymentRecord] = []

    @model_validator(mode="after")
    def _fill_totals(self) -> OrderRecord:
        # Shops that send no totals get them computed from the lines; shops that do send
        # them keep theirs (discounts and rounding rules are the shop's business).
        if self.subtotal is None:
            self.subtotal = sum(
                (line.unit_price * line.quantity for line in self.lines), Decimal("0")
            )
        if self.total is None:
            total = self.subtotal + self.shipping_total + self.tax_total - self.discount_total
            self.total = max(total, Decimal("0"))
        return self


class PolicyRecord(Record):
    key: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$")]
    kind: Policy.Kind = Policy.Kind.OTHER
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    window_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class ShopFile(Record):
    customers: list[CustomerRecord] = []
    products: list[ProductRecord] = []
    orders: list[OrderRecord] = []
    policies: list[PolicyRecord] = []


class ShopImportError(Exception):
    """A file that cannot be imported; ``errors`` name the records and fields."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:20]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__("\n".join(shown) + more)


_MESSAGES = {
    "decimal_parsing": "not a decimal",
    "decimal_type": "not a decimal",
    "int_parsing": "not an integer",
    "int_type": "not an integer",
    "missing": "missing",
    "extra_forbidden": "unknown field",
    "timezone_aware": "needs a timezone (e.g. 2025-01-31T12:00:00Z)",
    "datetime_from_date_parsing": "not a date-time (ISO 8601, e.g. 2025-01-31T12:00:00Z)",
    "datetime_parsing": "not a date-time (ISO 8601, e.g. 2025-01-31T12:00:00Z)",
    "datetime_type": "not a date-time (ISO 8601, e.g. 2025-01-31T12:00:00Z)",
    "date_from_datetime_parsing": "not a date (e.g. 2025-01-31)",
    "list_type": "not a list",
    "dict_type": "not an object",
    "model_type": "not an object",
    "string_type": "not a string",
    "bool_type": "not true or false",
    "bool_parsing": "not true or false",
}


def _location(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(file)"


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "enum":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"unknown value {error.get('input')!r} (expected {allowed})"
    if kind in ("greater_than_equal", "greater_than") and isinstance(
        error.get("input"), (int, float, str, Decimal)
    ):
        return f"must not be negative (got {error['input']})"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    text = str(error["msg"])
    return text.removeprefix("Value error, ")[:1].lower() + text.removeprefix("Value error, ")[1:]


def parse_shop_file(data: Any) -> ShopFile:
    """Validate decoded JSON against the schema; raise ShopImportError naming every problem."""
    if not isinstance(data, dict):
        raise ShopImportError(["(file): the top level must be a JSON object"])
    try:
        return ShopFile.model_validate(data)
    except ValidationError as exc:
        errors = [f"{_location(err['loc'])}: {_message(err)}" for err in exc.errors()]
        raise ShopImportError(errors) from None
