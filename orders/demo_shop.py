"""A made-up but realistic shop for demos: customers, a catalogue and a year of orders.

Everything is drawn from one ``random.Random(seed)`` and dated relative to ``today``, so
the same seed and day always give the same shop (the demo command and its tests rely on
that). The result is the import file of docs/import.md, ready for ``shop_import``.

Orders are simulated rather than labelled: each order gets a fate (payment fails, it is
cancelled, it ships in several parcels, a parcel gets stuck, it comes back …) and its
status follows from which of those events happened before the start of ``today``. That
keeps order status, line statuses, shipments and refunds consistent with each other and
with the order's age: yesterday's orders are pending or processing, last week's are on
their way, last spring's are delivered, returned or exchanged.
"""

from __future__ import annotations

import random
import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate, product
from typing import Any

SHOP = "Northbeam Outfitters"
CURRENCY = "USD"
CUSTOMERS = 240
ORDERS = 1000
FIRST_ORDER_NUMBER = 100001
RETURN_WINDOW_DAYS = 30
WARRANTY_DAYS = 730
CENT = Decimal("0.01")

# Option values whose SKU code is not simply their first letters ("grey" and "green").
_SKU_CODES = {
    "black": "BLK", "white": "WHT", "grey": "GRY", "green": "GRN", "forest green": "FGR",
    "navy": "NVY", "blue": "BLU", "red": "RED", "sand": "SND", "olive": "OLV", "rust": "RST",
    "yellow": "YLW", "teal": "TEA", "steel": "STL", "sage": "SGE", "coral": "CRL",
    "orange": "ORG", "brown": "BRN", "charcoal": "CHR", "khaki": "KHK", "mustard": "MUS",
    "natural": "NAT", "indigo": "IND", "matte black": "MBK",
}  # fmt: skip


@dataclass(frozen=True)
class _ProductSpec:
    id: str
    code: str
    name: str
    category: str
    price: str
    step: str  # added to the price for each step along the first option (capacity, size)
    options: tuple[tuple[str, tuple[str, ...]], ...]
    description: str


_S_XL = ("size", ("S", "M", "L", "XL"))
_EU_SIZES = ("size", ("40", "41", "42", "43", "44", "45"))

_CATALOGUE = (
    _ProductSpec("P-101", "MCT", "Merino Crew T-Shirt", "Apparel", "39.00", "0",
        (_S_XL, ("colour", ("black", "navy", "sand"))),
        "A 150 g/m² merino wool tee that stays fresh for days on the trail or in a carry-on."),
    _ProductSpec("P-102", "HOOD", "Everyday Hoodie", "Apparel", "64.00", "0",
        (_S_XL, ("colour", ("grey", "olive", "black"))),
        "Heavyweight organic cotton fleece with a lined hood and a hidden phone pocket."),
    _ProductSpec("P-103", "RJKT", "Packable Rain Jacket", "Apparel", "129.00", "0",
        (_S_XL, ("colour", ("red", "navy", "yellow"))),
        "Three-layer waterproof shell (20,000 mm) that packs into its own chest pocket."),
    _ProductSpec("P-104", "DVST", "Insulated Down Vest", "Apparel", "109.00", "0",
        (_S_XL, ("colour", ("black", "olive"))),
        "700-fill responsibly sourced down in a water-repellent ripstop shell."),
    _ProductSpec("P-105", "HTRS", "Stretch Hiking Trousers", "Apparel", "79.00", "0",
        (("waist", ("30", "32", "34", "36")), ("colour", ("khaki", "charcoal"))),
        "Four-way stretch trousers with articulated knees and zipped thigh pocket."),
    _ProductSpec("P-106", "FLQZ", "Fleece Quarter-Zip", "Apparel", "69.00", "0",
        (_S_XL, ("colour", ("navy", "forest green"))),
        "Recycled grid fleece that breathes on the climb and warms at the summit."),
    _ProductSpec("P-107", "BEAN", "Wool Beanie", "Apparel", "24.00", "0",
        (("colour", ("charcoal", "mustard", "red")),),
        "Ribbed lambswool beanie, one size, knitted in Scotland."),
    _ProductSpec("P-108", "SOCK", "Merino Hiking Socks (3-pack)", "Apparel", "28.00", "0",
        (("size", ("S", "M", "L")),),
        "Cushioned merino blend socks with a seamless toe; three pairs."),
    _ProductSpec("P-109", "GLOV", "Softshell Gloves", "Apparel", "34.00", "0",
        (("size", ("S", "M", "L")),),
        "Windproof gloves with touchscreen fingertips and a grippy palm."),
    _ProductSpec("P-110", "CAP", "Organic Cotton Cap", "Apparel", "22.00", "0",
        (("colour", ("sand", "navy", "black")),),
        "Six-panel cap with an adjustable brass buckle."),
    _ProductSpec("P-201", "TRUN", "Trail Runner", "Shoes", "89.00", "0",
        (_EU_SIZES, ("colour", ("blue", "black"))),
        "Light trail shoe with a 5 mm lug outsole and a rock plate."),
    _ProductSpec("P-202", "HBOOT", "Waterproof Hiking Boot", "Shoes", "159.00", "0",
        (_EU_SIZES, ("colour", ("brown",))),
        "Full-grain leather boot with a waterproof membrane and Vibram sole."),
    _ProductSpec("P-203", "SNKR", "Everyday Canvas Sneaker", "Shoes", "59.00", "0",
        (("size", ("38", "39", "40", "41", "42", "43", "44", "45")), ("colour", ("white", "black"))),
        "Vulcanised canvas sneaker with a natural rubber sole."),
    _ProductSpec("P-204", "SLIDE", "Recovery Slide", "Shoes", "35.00", "0",
        (("size", ("38-39", "40-41", "42-43", "44-45")), ("colour", ("black", "sand"))),
        "Soft foam slide for after the run."),
    _ProductSpec("P-205", "APRO", "Approach Shoe", "Shoes", "119.00", "0",
        (_EU_SIZES, ("colour", ("grey", "orange"))),
        "Sticky-rubber approach shoe for scrambles and via ferrata."),
    _ProductSpec("P-301", "DPK22", "Daypack 22 L", "Bags", "79.00", "0",
        (("colour", ("black", "olive", "rust")),),
        "Roll-top daypack with a padded laptop sleeve and side bottle pockets."),
    _ProductSpec("P-302", "DUFF", "Travel Duffel", "Bags", "65.00", "20.00",
        (("capacity", ("40 L", "60 L")), ("colour", ("black", "navy"))),
        "Weatherproof duffel that converts to a backpack."),
    _ProductSpec("P-303", "DRY", "Roll-Top Dry Bag", "Bags", "29.00", "6.00",
        (("capacity", ("10 L", "20 L", "30 L")), ("colour", ("yellow", "blue"))),
        "Welded-seam dry bag for kayaks, bikes and rainy festivals."),
    _ProductSpec("P-304", "HIP", "Hip Pack", "Bags", "39.00", "0",
        (("colour", ("black", "teal")),),
        "Two-litre hip pack with a key clip and a water-resistant zip."),
    _ProductSpec("P-305", "LSLV", "Laptop Sleeve", "Bags", "34.00", "3.00",
        (("size", ('13"', '15"', '16"')), ("colour", ("grey", "black"))),
        "Felt sleeve with a magnetic flap and a pocket for the charger."),
    _ProductSpec("P-401", "BOTL", "Insulated Water Bottle", "Home & Kitchen", "29.00", "4.00",
        (("capacity", ("500 ml", "750 ml", "1 L")), ("colour", ("steel", "black", "sage", "coral"))),
        "Double-walled steel bottle: cold for 24 hours, hot for 12."),
    _ProductSpec("P-402", "MUG", "Travel Mug", "Home & Kitchen", "24.00", "3.00",
        (("capacity", ("350 ml", "470 ml")), ("colour", ("black", "white", "red"))),
        "Leak-proof travel mug that fits car cup holders and most coffee machines."),
    _ProductSpec("P-403", "POUR", "Pour-Over Coffee Set", "Home & Kitchen", "49.00", "0",
        (("colour", ("white", "black")),),
        "Porcelain dripper, glass server and 100 filters."),
    _ProductSpec("P-404", "SKIL", "Cast Iron Skillet", "Home & Kitchen", "45.00", "12.00",
        (("size", ("20 cm", "26 cm", "30 cm")),),
        "Pre-seasoned cast iron for stovetop, oven and campfire."),
    _ProductSpec("P-405", "CMUG", "Enamel Camp Mug Set", "Home & Kitchen", "32.00", "0",
        (("colour", ("white", "blue")),),
        "Four enamel mugs with a speckled finish."),
    _ProductSpec("P-406", "KNIF", "Chef's Knife", "Home & Kitchen", "89.00", "10.00",
        (("blade", ("18 cm", "21 cm")),),
        "Forged stainless steel chef's knife with an olive-wood handle."),
    _ProductSpec("P-407", "TOWL", "Linen Tea Towels (2-pack)", "Home & Kitchen", "19.00", "0",
        (("colour", ("natural", "indigo", "rust")),),
        "Stonewashed linen towels that get softer with every wash."),
    _ProductSpec("P-408", "KETL", "Electric Kettle", "Home & Kitchen", "69.00", "10.00",
        (("capacity", ("1.0 L", "1.7 L")), ("colour", ("steel", "matte black"))),
        "Gooseneck kettle with temperature control from 40 to 100 °C."),
    _ProductSpec("P-501", "BUDS", "Wireless Earbuds", "Electronics", "99.00", "0",
        (("colour", ("black", "white")),),
        "Noise-cancelling earbuds with 8 hours of playback and a wireless charging case."),
    _ProductSpec("P-502", "PWR", "Portable Power Bank", "Electronics", "45.00", "20.00",
        (("capacity", ("10,000 mAh", "20,000 mAh")), ("colour", ("black", "white"))),
        "USB-C power bank with 30 W fast charging."),
    _ProductSpec("P-503", "SPKR", "Bluetooth Speaker", "Electronics", "79.00", "0",
        (("colour", ("black", "blue", "orange")),),
        "Waterproof (IP67) speaker that floats, with 16 hours of battery."),
    _ProductSpec("P-504", "LAMP", "Headlamp 400 lm", "Electronics", "39.00", "0",
        (("colour", ("black", "yellow")),),
        "Rechargeable headlamp with red light mode and lock-out."),
    _ProductSpec("P-505", "SOLR", "Solar Charger", "Electronics", "59.00", "20.00",
        (("output", ("15 W", "21 W")),),
        "Folding solar panel with two USB ports."),
    _ProductSpec("P-506", "BAND", "Smartwatch Band", "Electronics", "25.00", "0",
        (("size", ("S", "M", "L")), ("colour", ("black", "olive", "sand"))),
        "Woven nylon band with a quick-release pin for 22 mm lugs."),
    _ProductSpec("P-507", "CABL", "USB-C Charging Cable", "Electronics", "15.00", "4.00",
        (("length", ("1 m", "2 m")), ("colour", ("white", "black"))),
        "Braided 100 W USB-C cable."),
    _ProductSpec("P-601", "TENT", "Two-Person Tent", "Outdoor", "249.00", "0",
        (("colour", ("green", "orange")),),
        "Freestanding 1.9 kg backpacking tent with two doors and two vestibules."),
    _ProductSpec("P-602", "SBAG", "Down Sleeping Bag", "Outdoor", "189.00", "20.00",
        (("size", ("regular", "long")),),
        "Comfort rating -2 °C, 800-fill down, compression sack included."),
    _ProductSpec("P-603", "PAD", "Inflatable Sleeping Pad", "Outdoor", "99.00", "20.00",
        (("size", ("regular", "wide")),),
        "R-value 4.2 insulated pad with a pump sack."),
    _ProductSpec("P-604", "POLE", "Trekking Poles (pair)", "Outdoor", "69.00", "0",
        (("length", ("110-130 cm", "120-140 cm")),),
        "Aluminium poles with cork grips and flick locks."),
    _ProductSpec("P-605", "STOV", "Camp Stove", "Outdoor", "55.00", "0",
        (("colour", ("steel",)),),
        "Canister stove that boils a litre in three and a half minutes."),
)  # fmt: skip


@dataclass(frozen=True)
class _Region:
    country: str
    language: str
    share: int  # customers per hundred
    carriers: tuple[str, ...]  # most used first
    transit_days: tuple[int, int]
    free_over: Decimal
    fee: Decimal
    phone: str  # '#' is a digit, '@' a capital letter
    cities: tuple[tuple[str, str, str], ...]  # city, region, postal code pattern
    street: str
    street_names: tuple[str, ...]
    street_kinds: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    methods: tuple[str, ...]


_EN_FIRST = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Ethan", "Sophia", "Mason", "Isabella", "Lucas",
    "Mia", "James", "Charlotte", "Benjamin", "Amelia", "Henry", "Harper", "Jack", "Evelyn",
    "Oliver", "Grace", "Samuel", "Chloe", "Daniel", "Ruby", "Thomas", "Priya", "Arjun", "Mei",
    "Kenji", "Fatima", "Omar", "Aisha", "Mateo", "Hannah", "Isaac", "Zoe", "Leo", "Nora",
)  # fmt: skip
_EN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Taylor", "Anderson", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris",
    "Clarke", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Patel", "Khan", "Nguyen",
    "Chen", "O'Brien", "Murphy", "Evans", "Hughes", "Reed", "Cooper", "Bailey", "Kim",
)  # fmt: skip

_REGIONS = (
    _Region(
        "US", "en", 55, ("UPS", "FedEx", "USPS"), (2, 5), Decimal("75.00"), Decimal("5.95"),
        "+1 ###-555-01##",
        (("Seattle", "WA", "981##"), ("Portland", "OR", "972##"), ("Denver", "CO", "802##"),
         ("Austin", "TX", "787##"), ("Chicago", "IL", "606##"), ("Boston", "MA", "021##"),
         ("New York", "NY", "100##"), ("San Francisco", "CA", "941##"),
         ("Atlanta", "GA", "303##"), ("Minneapolis", "MN", "554##"),
         ("Philadelphia", "PA", "191##"), ("Phoenix", "AZ", "850##")),
        "{n} {name} {kind}",
        ("Maple", "Oak", "Cedar", "Pine", "Elm", "Lakeview", "Highland", "Park",
         "Washington", "Lincoln", "Sunset", "Hillcrest"),
        ("Street", "Avenue", "Road", "Drive", "Lane"),
        _EN_FIRST, _EN_LAST, ("card", "card", "card", "paypal", "apple_pay", "google_pay"),
    ),
    _Region(
        "GB", "en", 20, ("Royal Mail", "DPD", "DHL"), (1, 3), Decimal("100.00"), Decimal("9.95"),
        "+44 20 7946 0###",
        (("London", "", "NW# #@@"), ("London", "", "SE## #@@"), ("Manchester", "", "M## #@@"),
         ("Bristol", "", "BS# #@@"), ("Leeds", "", "LS# #@@"), ("Edinburgh", "", "EH# #@@"),
         ("Cardiff", "", "CF## #@@"), ("Birmingham", "", "B## #@@")),
        "{n} {name} {kind}",
        ("High", "Church", "Station", "Victoria", "Mill", "Queen's", "Manor", "King's"),
        ("Street", "Road", "Lane", "Close", "Gardens"),
        _EN_FIRST, _EN_LAST, ("card", "card", "card", "paypal", "apple_pay", "klarna"),
    ),
    _Region(
        "DE", "de", 10, ("DHL", "DPD", "UPS"), (3, 6), Decimal("100.00"), Decimal("9.95"),
        "+49 30 23125 ###",
        (("Berlin", "Berlin", "10###"), ("Hamburg", "Hamburg", "20###"),
         ("München", "Bayern", "80###"), ("Köln", "Nordrhein-Westfalen", "50###"),
         ("Frankfurt am Main", "Hessen", "60###"), ("Leipzig", "Sachsen", "04###")),
        "{name}{kind} {n}",
        ("Haupt", "Garten", "Bahnhof", "Schul", "Linden", "Birken", "Berg", "Kirch"),
        ("straße", "weg", "allee"),
        ("Lukas", "Leon", "Finn", "Jonas", "Paul", "Felix", "Emma", "Mia", "Hannah", "Lena",
         "Sophie", "Marie", "Anna", "Lea", "Jan", "Tobias", "Katharina", "Julia", "Sebastian"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf"),
        ("card", "paypal", "paypal", "klarna", "bank_transfer"),
    ),
    _Region(
        "FR", "fr", 8, ("DPD", "DHL", "UPS"), (3, 6), Decimal("100.00"), Decimal("9.95"),
        "+33 1 99 00 ## ##",
        (("Paris", "Île-de-France", "750##"), ("Lyon", "Auvergne-Rhône-Alpes", "6900#"),
         ("Marseille", "Provence-Alpes-Côte d'Azur", "130##"), ("Toulouse", "Occitanie", "310##"),
         ("Bordeaux", "Nouvelle-Aquitaine", "330##"), ("Lille", "Hauts-de-France", "590##")),
        "{n} {kind} {name}",
        ("de la Paix", "Victor Hugo", "des Lilas", "du Moulin", "Pasteur", "Jean Jaurès"),
        ("rue", "avenue", "boulevard"),
        ("Louis", "Gabriel", "Léo", "Jules", "Hugo", "Arthur", "Camille", "Léa", "Manon",
         "Chloé", "Inès", "Louise", "Jade", "Mathilde", "Antoine", "Élodie", "Théo"),
        ("Martin", "Bernard", "Dubois", "Robert", "Richard", "Petit", "Durand", "Leroy",
         "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garnier", "Faure", "Rousseau"),
        ("card", "card", "paypal", "apple_pay"),
    ),
    _Region(
        "ES", "es", 7, ("DHL", "DPD", "UPS"), (3, 6), Decimal("100.00"), Decimal("9.95"),
        "+34 91 ### ## ##",
        (("Madrid", "Madrid", "280##"), ("Barcelona", "Cataluña", "080##"),
         ("Valencia", "Comunidad Valenciana", "460##"), ("Sevilla", "Andalucía", "410##"),
         ("Bilbao", "País Vasco", "480##")),
        "{kind} {name}, {n}",
        ("Mayor", "del Sol", "de Alcalá", "de la Paz", "Real", "San Juan", "Gran Vía"),
        ("Calle", "Avenida", "Paseo"),
        ("Hugo", "Martín", "Lucas", "Mateo", "Pablo", "Álvaro", "Lucía", "Sofía", "María",
         "Paula", "Carmen", "Elena", "Javier", "Alejandro", "Daniela", "Marta", "Sergio"),
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
         "Pérez", "Gómez", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz"),
        ("card", "card", "paypal", "google_pay"),
    ),
)  # fmt: skip
_REGION = {region.country: region for region in _REGIONS}

# Real carriers' formats, so that a tracking number looks right in a chat reply.
_TRACKING = {
    "UPS": "1Z9V2E8103########",
    "FedEx": "############",
    "USPS": "94001#################",
    "DHL": "##########",
    "DPD": "0#############",
    "Royal Mail": "@@#########GB",
}


@dataclass
class _Customer:
    id: str
    name: str
    email: str
    phone: str
    region: _Region
    address: dict[str, str]
    card: str
    preferred: str
    created_at: datetime | None = None


@dataclass
class _Fate:
    """What will happen to an order; its status is how much of it happened by the cutoff."""

    payment_fails: bool = False
    cancel_after: timedelta | None = None
    confirm_after: timedelta = timedelta(hours=1)
    ship_after: timedelta = timedelta(days=1)
    parcels: int = 1
    backorder: timedelta | None = None  # later parcels leave this much after the first
    transit_days: int | None = None  # None: the region's usual range
    slip_days: int = 0  # delivery compared with the estimate
    stuck: bool = False
    aftercare: str | None = None  # "return_all" | "return_some" | "exchange"
    aftercare_after: timedelta = timedelta(days=5)


@dataclass
class _Draft:
    number: str
    customer: _Customer
    placed_at: datetime
    cutoff: datetime
    rng: random.Random
    lines: list[dict[str, Any]]
    subtotal: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    payments: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    status: str = "pending"


# The two customers a demo starts with; each slot is (customer, age range in days, fate).
_DEMO_ORDERS = (
    ("C-1001", 2, 4, "in_transit"),
    ("C-1001", 25, 60, "delivered"),
    ("C-1001", 90, 200, None),
    ("C-1001", 200, 330, "delivered"),
    ("C-1002", 5, 20, None),
    ("C-1002", 40, 90, "returned"),
    ("C-1002", 120, 300, "delivered"),
)


def demo_shop_data(*, seed: int = 7, today: date) -> dict[str, Any]:
    """The demo shop as an import file (docs/import.md); same seed and day, same shop."""
    rng = random.Random(seed)
    # Everything happened before the start of today, so the data is the same all day.
    cutoff = datetime.combine(today, time.min, tzinfo=UTC)
    products = [_product(rng, spec) for spec in _CATALOGUE]
    customers = _customers(rng)
    placed = _order_times(rng, cutoff)
    owners, forced = _owners(rng, customers, placed, cutoff)
    variants = _sellable(rng, products)
    orders = []
    for index, (placed_at, customer) in enumerate(zip(placed, owners, strict=True)):
        number = str(FIRST_ORDER_NUMBER + index)
        draft = _Draft(number, customer, placed_at, cutoff, rng, _lines(rng, variants))
        orders.append(_order(draft, forced.get(index)))
        if customer.created_at is None:
            # Accounts are opened at checkout, a few minutes before the first order.
            customer.created_at = placed_at - timedelta(minutes=rng.randint(2, 40))
    return {
        "customers": [_customer_record(c) for c in customers],
        "products": products,
        "orders": orders,
        "policies": _policies(),
    }


# Catalogue


def _product(rng: random.Random, spec: _ProductSpec) -> dict[str, Any]:
    names = [name for name, _ in spec.options]
    variants = []
    for values in product(*(values for _, values in spec.options)):
        step = spec.options[0][1].index(values[0])
        price = Decimal(spec.price) + step * Decimal(spec.step)
        variants.append(
            {
                "sku": "-".join([spec.code, *(_sku_code(value) for value in values)]),
                "options": dict(zip(names, values, strict=True)),
                "price": str(price),
                "currency": CURRENCY,
                "available": rng.random() > 0.08,
            }
        )
    return {
        "id": spec.id,
        "name": spec.name,
        "category": spec.category,
        "description": spec.description,
        "variants": variants,
    }


def _sku_code(value: str) -> str:
    return _SKU_CODES.get(value) or re.sub(r"[^0-9A-Z]", "", value.upper())[:6]


def _sellable(rng: random.Random, products: list[dict[str, Any]]) -> list[tuple[str, dict]]:
    """(product name, variant) pairs, bestsellers repeated so that they are drawn more often."""
    pool = []
    for item in products:
        popularity = min(int(rng.paretovariate(1.3) * 2), 12)
        pool += [(item["name"], variant) for variant in item["variants"]] * popularity
    return pool


# Customers


def _customers(rng: random.Random) -> list[_Customer]:
    people = _demo_customers()
    emails = {person.email for person in people}
    shares = [region.share for region in _REGIONS]
    for n in range(1003, 1001 + CUSTOMERS):
        region = rng.choices(_REGIONS, weights=shares)[0]
        people.append(_customer(rng, f"C-{n}", region, emails))
    return people


def _demo_customers() -> list[_Customer]:
    ada = _address("Ada Lovelace", "12 St James's Square", "", "London", "", "NW1 6XE", "GB")
    grace = _address("Grace Hopper", "100 Hudson Street", "Apt 4B", "New York", "NY", "10013", "US")
    return [
        _Customer("C-1001", "Ada Lovelace", "ada.lovelace@example.com", "+44 20 7946 0018",
                  _REGION["GB"], ada, "Visa ending 4242", "card"),
        _Customer("C-1002", "Grace Hopper", "grace.hopper@example.org", "+1 212-555-0142",
                  _REGION["US"], grace, "Mastercard ending 5454", "card"),
    ]  # fmt: skip


def _customer(rng: random.Random, customer_id: str, region: _Region, emails: set[str]) -> _Customer:
    first, last = rng.choice(region.first_names), rng.choice(region.last_names)
    name = f"{first} {last}"
    city, state, postal_pattern = rng.choice(region.cities)
    line1 = region.street.format(
        n=rng.randint(1, 240),
        name=rng.choice(region.street_names),
        kind=rng.choice(region.street_kinds),
    )
    line2 = f"Apt {rng.randint(1, 30)}{rng.choice('ABCD')}" if rng.random() < 0.2 else ""
    postal = _fill(rng, postal_pattern)
    brand = rng.choices(("Visa", "Mastercard", "Amex"), weights=(55, 35, 10))[0]
    return _Customer(
        id=customer_id,
        name=name,
        email=_email(rng, first, last, emails),
        phone=_fill(rng, region.phone),
        region=region,
        address=_address(name, line1, line2, city, state, postal, region.country),
        card=f"{brand} ending {rng.randint(0, 9999):04d}",
        preferred=rng.choice(region.methods),
    )


def _address(name: str, line1: str, line2: str, city: str, region: str, postal: str, country: str) -> dict[str, str]:  # fmt: skip
    return {
        "name": name, "line1": line1, "line2": line2, "city": city,
        "region": region, "postal_code": postal, "country": country,
    }  # fmt: skip


def _email(rng: random.Random, first: str, last: str, taken: set[str]) -> str:
    first, last = _ascii(first), _ascii(last)
    local = rng.choice(
        (f"{first}.{last}", f"{first}{last}", f"{first[0]}.{last}", f"{first}_{last}")
    )
    domain = "example.com" if rng.random() < 0.7 else "example.org"
    email = f"{local}@{domain}"
    while email in taken:
        email = f"{local}{rng.randint(2, 99)}@{domain}"
    taken.add(email)
    return email


def _ascii(name: str) -> str:
    name = name.lower().replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", plain)


def _fill(rng: random.Random, pattern: str) -> str:
    """Fill a pattern: '#' becomes a digit, '@' a capital letter, the rest stays."""
    chars = []
    for char in pattern:
        if char == "#":
            char = str(rng.randint(0, 9))
        elif char == "@":
            char = rng.choice("ABDEFGHJLNPQRSTUWXYZ")
        chars.append(char)
    return "".join(chars)


def _customer_record(customer: _Customer) -> dict[str, Any]:
    assert customer.created_at is not None  # every customer is given an order
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "postal_code": customer.address["postal_code"],
        "language": customer.region.language,
        "created_at": _iso(customer.created_at),
    }


# Who ordered when


def _order_times(rng: random.Random, cutoff: datetime) -> list[datetime]:
    """Placing times over the last year, oldest first; the shop has grown, so recent days are busier."""
    days = [rng.uniform(0, 2) for _ in range(30)]  # enough fresh orders to show every early status
    days += [rng.uniform(2, 5) for _ in range(40)]
    days += [rng.uniform(5, 12) for _ in range(60)]
    days += [12 + 352 * rng.random() ** 1.4 for _ in range(ORDERS - len(days))]
    hours = list(range(24))
    busy = [1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 8, 7, 7, 8, 9, 10, 11, 11, 9, 6, 3]
    times = []
    for age in days:
        day = cutoff - timedelta(days=int(age) + 1)
        hour = rng.choices(hours, weights=busy)[0]
        times.append(
            day + timedelta(hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
        )
    return sorted(times)


def _owners(
    rng: random.Random, customers: list[_Customer], placed: list[datetime], cutoff: datetime
) -> tuple[list[_Customer], dict[int, str | None]]:
    """Who placed each order: the demo pair get their planned orders, everyone gets at least one."""
    by_id = {c.id: c for c in customers}
    ages = [(cutoff - t).days for t in placed]
    owner: dict[int, _Customer] = {}
    forced: dict[int, str | None] = {}
    for customer_id, low, high, fate in _DEMO_ORDERS:
        slot = rng.choice([i for i, age in enumerate(ages) if low <= age < high and i not in owner])
        owner[slot], forced[slot] = by_id[customer_id], fate
    free = [i for i in range(len(placed)) if i not in owner]
    rng.shuffle(free)
    others = customers[2:]
    for slot, customer in zip(free, others, strict=False):
        owner[slot] = customer
    # A few loyal customers place many orders, most place one to three.
    loyalty = list(accumulate(min(rng.paretovariate(1.4), 8.0) for _ in others))
    for slot in free[len(others) :]:
        owner[slot] = others[bisect_left(loyalty, rng.random() * loyalty[-1])]
    return [owner[i] for i in range(len(placed))], forced


# Orders


def _lines(rng: random.Random, variants: list[tuple[str, dict]]) -> list[dict[str, Any]]:
    count = rng.choices((1, 2, 3, 4, 5), weights=(50, 28, 14, 6, 2))[0]
    chosen: dict[str, tuple[str, dict]] = {}
    while len(chosen) < count:
        name, variant = rng.choice(variants)
        chosen.setdefault(name, (name, variant))
    return [
        {
            "id": str(index),
            "sku": variant["sku"],
            "name": name,
            "options": dict(variant["options"]),
            "quantity": rng.choices((1, 2, 3), weights=(85, 12, 3))[0],
            "unit_price": variant["price"],
            "status": "ordered",
        }
        for index, (name, variant) in enumerate(chosen.values(), start=1)
    ]


def _order(draft: _Draft, force: str | None) -> dict[str, Any]:
    money = _money(draft)
    customer = draft.customer
    method = (
        customer.preferred
        if draft.rng.random() < 0.8
        else draft.rng.choice(customer.region.methods)
    )
    fate = _fate(draft, method, force)
    draft.payments = _payments(draft, method, fate)
    _run(draft, fate)
    return {
        "number": draft.number,
        "customer": customer.id,
        "status": draft.status,
        "placed_at": _iso(draft.placed_at),
        "currency": CURRENCY,
        **money,
        "shipping_address": dict(customer.address),
        "lines": draft.lines,
        "shipments": draft.shipments,
        "payments": draft.payments,
    }


def _fate(draft: _Draft, method: str, force: str | None) -> _Fate:
    rng, bank = draft.rng, method == "bank_transfer"
    fate = _Fate(
        payment_fails=not bank and rng.random() < 0.015,
        cancel_after=timedelta(hours=rng.uniform(0.2, 18)) if rng.random() < 0.05 else None,
        confirm_after=_confirm_after(rng, bank),
        ship_after=timedelta(hours=rng.uniform(20, 70)),
        parcels=_parcel_count(rng, len(draft.lines)),
        slip_days=rng.choices((-1, 0, 1, 2, 4), weights=(18, 57, 12, 8, 5))[0],
        stuck=rng.random() < 0.08,
        aftercare=rng.choices(
            (None, "return_all", "return_some", "exchange"), weights=(80, 8, 7, 5)
        )[0],
        aftercare_after=timedelta(days=rng.uniform(1, RETURN_WINDOW_DAYS - 5)),
    )
    if bank:
        fate.cancel_after = None  # unpaid transfers lapse instead (not simulated)
        fate.ship_after += fate.confirm_after
    if fate.parcels > 1 and rng.random() < 0.5:
        fate.backorder = timedelta(days=rng.uniform(3, 10))
    return _forced(fate, force, draft) if force else fate


def _parcel_count(rng: random.Random, line_count: int) -> int:
    # Bulky or mixed orders leave in several boxes, from one or two warehouses.
    if line_count > 1 and rng.random() < 0.3:
        return min(line_count, rng.choice((2, 2, 3)))
    return 1


def _confirm_after(rng: random.Random, bank: bool) -> timedelta:
    if bank:
        return timedelta(hours=rng.uniform(24, 72))  # the order waits for the transfer
    if rng.random() < 0.2:
        return timedelta(hours=rng.uniform(12, 36))  # held for an address or fraud check
    return timedelta(hours=rng.uniform(0.1, 4))


def _forced(fate: _Fate, force: str, draft: _Draft) -> _Fate:
    """Pin the demo customers' orders to the story the demo tells."""
    fate.payment_fails, fate.cancel_after, fate.stuck = False, None, False
    fate.parcels, fate.backorder, fate.aftercare, fate.slip_days = 1, None, None, 0
    fate.confirm_after = timedelta(minutes=20)
    fate.ship_after = timedelta(hours=30)
    if force == "in_transit":
        # Left the warehouse yesterday morning, due the day after tomorrow.
        fate.ship_after = draft.cutoff - timedelta(hours=15) - draft.placed_at
        fate.transit_days = 3
    elif force == "returned":
        fate.aftercare, fate.aftercare_after = "return_all", timedelta(days=6)
    return fate


def _money(draft: _Draft) -> dict[str, str]:
    subtotal = sum(
        (Decimal(line["unit_price"]) * line["quantity"] for line in draft.lines), Decimal("0")
    )
    discount = Decimal("0.00")
    if draft.customer.created_at is None and draft.rng.random() < 0.3:
        discount = (subtotal * Decimal("0.10")).quantize(CENT, ROUND_HALF_UP)  # WELCOME10
    region = draft.customer.region
    shipping = Decimal("0.00") if subtotal - discount >= region.free_over else region.fee
    draft.subtotal, draft.shipping = subtotal, shipping
    draft.total = subtotal - discount + shipping
    return {
        "subtotal": str(subtotal),
        "shipping_total": str(shipping),
        "tax_total": "0.00",
        "discount_total": str(discount),
        "total": str(draft.total),
    }


def _payments(draft: _Draft, method: str, fate: _Fate) -> list[dict[str, Any]]:
    rng, remaining = draft.rng, draft.total
    at = draft.placed_at + timedelta(seconds=rng.randint(5, 90))
    payments: list[dict[str, Any]] = []
    if method != "bank_transfer" and not fate.payment_fails and rng.random() < 0.07:
        # The gift card is used first and the card (or wallet) pays the rest.
        gift = min(Decimal(rng.choice(("25.00", "50.00", "100.00"))), remaining)
        payments.append(
            _payment(
                draft, payments, "gift_card", f"Gift card ending {_fill(rng, '@@##')}", gift, at
            )
        )
        remaining -= gift
    if remaining > 0:
        payments.append(
            _payment(draft, payments, method, _method_detail(draft, method), remaining, at)
        )
    if fate.payment_fails:
        payments[-1]["status"] = "failed"
    return payments


def _payment(
    draft: _Draft,
    earlier: list[dict[str, Any]],
    method: str,
    detail: str,
    amount: Decimal,
    at: datetime,
) -> dict[str, Any]:
    return {
        "id": f"PAY-{draft.number}-{len(earlier) + 1}",
        "kind": "payment",
        "method": method,
        "method_detail": detail,
        "amount": str(amount),
        "status": "succeeded",
        "created_at": _iso(at),
    }


def _method_detail(draft: _Draft, method: str) -> str:
    customer = draft.customer
    return {
        "card": customer.card,
        "paypal": f"PayPal ({customer.email})",
        "apple_pay": f"Apple Pay ({customer.card})",
        "google_pay": f"Google Pay ({customer.card})",
        "klarna": "Klarna, pay in 30 days",
        "bank_transfer": f"Bank transfer, reference {draft.number}",
    }[method]


def _run(draft: _Draft, fate: _Fate) -> None:
    """Play the order's fate forward to the cutoff and leave its state in the draft."""
    placed, cutoff = draft.placed_at, draft.cutoff
    if fate.payment_fails:
        _cancel(draft, placed + timedelta(minutes=draft.rng.randint(5, 50)), refund=Decimal("0"))
        return
    if fate.cancel_after is not None and placed + fate.cancel_after + timedelta(hours=2) < cutoff:
        _cancel(draft, placed + fate.cancel_after, refund=draft.total)
        return
    if placed + fate.confirm_after >= cutoff:
        for payment in draft.payments:
            if payment["method"] == "bank_transfer":
                payment["status"] = "pending"
        draft.status = "pending"
        return
    _ship(draft, fate)
    if draft.status == "delivered" and fate.aftercare:
        _aftercare(draft, fate)


def _cancel(draft: _Draft, at: datetime, *, refund: Decimal) -> None:
    draft.status = "cancelled"
    for line in draft.lines:
        line["status"] = "cancelled"
    if refund:
        _refund(draft, refund, at + timedelta(minutes=draft.rng.randint(2, 90)))


def _refund(draft: _Draft, amount: Decimal, at: datetime) -> None:
    # Refunds go back to the card (or PayPal …) first; the rest restores the gift card.
    paid = [p for p in draft.payments if p["kind"] == "payment" and p["status"] == "succeeded"]
    paid.sort(key=lambda p: p["method"] == "gift_card")
    for payment in paid:
        part = min(amount, Decimal(payment["amount"]))
        if part <= 0:
            break
        refund = {**payment, "id": f"PAY-{draft.number}-{len(draft.payments) + 1}"}
        refund.update(kind="refund", amount=str(part), created_at=_iso(at))
        draft.payments.append(refund)
        amount -= part


# Parcels


def _ship(draft: _Draft, fate: _Fate) -> None:
    rng, region = draft.rng, draft.customer.region
    carrier = rng.choices(region.carriers, weights=(6, 3, 1))[0]
    groups = _split(rng, [line["id"] for line in draft.lines], fate.parcels)
    first = draft.placed_at + fate.ship_after
    for index, line_ids in enumerate(groups):
        shipped_at = first
        if index > 0:
            shipped_at += fate.backorder or timedelta(hours=rng.uniform(0.5, 6))
        transit = fate.transit_days or rng.randint(*region.transit_days)
        shipment = _shipment(draft, carrier, line_ids, shipped_at, transit, fate)
        if shipment is not None:
            draft.shipments.append(shipment)
            _mark_lines(draft, shipment)
    sent = [s["status"] for s in draft.shipments if s["status"] != "label_created"]
    if not sent:
        draft.status = "processing"
    elif len(sent) < len(groups):
        draft.status = "partially_shipped"
    else:
        draft.status = "delivered" if set(sent) == {"delivered"} else "shipped"


def _mark_lines(draft: _Draft, shipment: dict[str, Any]) -> None:
    if shipment["status"] == "label_created":
        return  # still on our shelf as far as the shopper is concerned
    status = "delivered" if shipment["status"] == "delivered" else "shipped"
    for line in draft.lines:
        if line["id"] in shipment["lines"]:
            line["status"] = status


def _split(rng: random.Random, line_ids: list[str], parcels: int) -> list[list[str]]:
    shuffled = line_ids[:]
    rng.shuffle(shuffled)
    groups = [[line_id] for line_id in shuffled[:parcels]]
    for line_id in shuffled[parcels:]:
        rng.choice(groups).append(line_id)
    return [sorted(group, key=int) for group in groups]


def _shipment(
    draft: _Draft,
    carrier: str,
    line_ids: list[str],
    shipped_at: datetime,
    transit: int,
    fate: _Fate,
) -> dict[str, Any] | None:
    rng, cutoff = draft.rng, draft.cutoff
    if shipped_at >= cutoff:
        return None
    eta = shipped_at.date() + timedelta(days=transit)
    slip = max(fate.slip_days, 1 - transit)
    arrival = datetime.combine(
        eta + timedelta(days=slip), time(rng.randint(9, 18), rng.randint(0, 59)), UTC
    )
    # A parcel is only still lost if it went missing recently; older ones turned up late.
    stuck = fate.stuck and arrival >= cutoff - timedelta(days=10)
    status = _parcel_status(draft, shipped_at, eta, arrival, stuck)
    tracking = [_fill(rng, _TRACKING[carrier])]
    if len(line_ids) > 2 and rng.random() < 0.3:
        tracking.append(_fill(rng, _TRACKING[carrier]))  # a bulky parcel goes as two pieces
    return {
        "id": f"SH-{draft.number}-{len(draft.shipments) + 1}",
        "carrier": carrier,
        "tracking_numbers": tracking,
        "lines": line_ids,
        "status": status,
        "shipped_at": None if status == "label_created" else _iso(shipped_at),
        "estimated_delivery": eta.isoformat(),
        "delivered_at": _iso(arrival) if status == "delivered" else None,
    }


def _parcel_status(draft: _Draft, shipped_at: datetime, eta: date, arrival: datetime, stuck: bool) -> str:  # fmt: skip
    cutoff = draft.cutoff
    if stuck:
        return "exception" if draft.rng.random() < 0.5 else "in_transit"
    if arrival < cutoff:
        return "delivered"
    if shipped_at >= cutoff - timedelta(hours=8):
        return "label_created"
    if arrival.date() == cutoff.date():
        return "out_for_delivery"
    return "in_transit"


# After delivery


def _aftercare(draft: _Draft, fate: _Fate) -> None:
    rng = draft.rng
    delivered = max(datetime.fromisoformat(s["delivered_at"]) for s in draft.shipments)
    requested = delivered + fate.aftercare_after
    if requested >= draft.cutoff:
        return
    if fate.aftercare == "exchange":
        _exchange(draft, rng.choice(draft.lines), requested)
        return
    lines = draft.lines
    if fate.aftercare == "return_some" and len(lines) > 1:
        lines = rng.sample(lines, rng.randint(1, len(lines) - 1))
    # The refund follows once the parcel is back and checked, four to ten days later.
    refunded = requested + timedelta(days=rng.uniform(4, 10))
    done = refunded < draft.cutoff
    for line in lines:
        line["status"] = "returned" if done else "return_requested"
    if done:
        every = len(lines) == len(draft.lines)
        draft.status = "returned" if every else "partially_returned"
        _refund(draft, _refund_amount(draft, lines, every), refunded)


def _refund_amount(draft: _Draft, lines: list[dict[str, Any]], every: bool) -> Decimal:
    # Outbound shipping is not refunded for a change of mind; discounts are shared pro rata.
    goods = draft.total - draft.shipping
    if every or not draft.subtotal:
        return goods
    value = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal("0"))
    return min((value * goods / draft.subtotal).quantize(CENT, ROUND_HALF_UP), goods)


def _exchange(draft: _Draft, line: dict[str, Any], requested: datetime) -> None:
    """A size or colour swap: the replacement leaves once the return is scanned."""
    rng = draft.rng
    line["status"] = "exchanged"
    draft.status = "exchanged"
    shipped_at = requested + timedelta(days=rng.uniform(3, 6))
    transit = rng.randint(*draft.customer.region.transit_days)
    carrier = draft.shipments[0]["carrier"]
    replacement = _shipment(draft, carrier, [line["id"]], shipped_at, transit, _Fate())
    if replacement is not None:
        draft.shipments.append(replacement)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Policies


def _policies() -> list[dict[str, Any]]:
    return [
        {"key": "returns", "kind": "returns", "title": "Returns and refunds",
         "body": _RETURNS, "window_days": RETURN_WINDOW_DAYS},
        {"key": "shipping", "kind": "shipping", "title": "Shipping and delivery", "body": _SHIPPING},
        {"key": "warranty", "kind": "warranty", "title": "Warranty",
         "body": _WARRANTY, "window_days": WARRANTY_DAYS},
        {"key": "payment", "kind": "payment", "title": "Payment", "body": _PAYMENT},
        {"key": "privacy", "kind": "privacy", "title": "Privacy notice", "body": _PRIVACY},
    ]  # fmt: skip


_RETURNS = f"""\
You can return anything you bought from {SHOP} within {RETURN_WINDOW_DAYS} days of delivery, \
for any reason. Items must be unused, unwashed and in their original packaging with the \
tags attached; shoes should be tried on indoors only. Opened electronics can be returned \
if they are complete and undamaged.

To start a return, sign in and open the order, or ask our support team with your order \
number. Choose the items you want to send back: you do not have to return a whole order, \
and each item line is handled on its own. We email you a prepaid label for the carrier \
that delivered your parcel. Returns are free within the United States and the United \
Kingdom; from the European Union the label costs USD 7.95, deducted from your refund.

Once the carrier scans your return, the item shows as "return requested". When it reaches \
our warehouse we check it, usually within four working days, and refund you. Refunds go \
back to the way you paid: the card, PayPal, Apple Pay, Google Pay or Klarna account you \
used. If you paid partly with a gift card, we refund the card or PayPal part first and \
restore any remainder to your gift card. Your bank may take a further 3 to 5 business days \
to show the money.

When you return a whole order we refund everything you paid except the original shipping \
fee. When you return part of an order we refund the items you sent back, less their share \
of any discount code used. If an item arrived damaged, faulty or wasn't what you ordered, \
we also refund the shipping and you don't pay for the return label.

Exchanges: if you need a different size or colour, ask for an exchange instead of a \
return. We ship the replacement as soon as the carrier scans your parcel, at no extra \
cost, as long as the new variant is in stock. Exchanges follow the same \
{RETURN_WINDOW_DAYS}-day window.

Orders you cancel before they leave our warehouse (status pending or processing) are \
refunded in full within a few hours. Once a parcel has shipped it can no longer be \
cancelled; return it instead when it arrives. Gift cards and personalised items cannot be \
returned."""

_SHIPPING = """\
We pack orders at our warehouses in the United States and the Netherlands, usually within \
one to two business days of payment. Orders paid by bank transfer are packed once the \
payment arrives. You get an email with the carrier and tracking number as soon as each \
parcel leaves us.

United States: we ship with UPS, FedEx and USPS. Delivery takes 2 to 5 business days. \
Shipping is free on orders over USD 75 after discounts; below that it costs USD 5.95.

United Kingdom: we ship with Royal Mail, DPD and DHL, delivered in 1 to 3 business days. \
Germany, France, Spain and the rest of the EU: we ship with DHL, DPD and UPS, delivered in 3 \
to 6 business days. Shipping is free on orders over USD 100; below that it costs USD 9.95. \
Prices include import duties and VAT, so there is nothing extra to pay on delivery.

Larger orders, and orders with an item on backorder, may arrive in several parcels. Each \
parcel has its own tracking number, and we never charge more than once for shipping. If \
part of your order is waiting for stock, we send what is ready and the rest follows as \
soon as it comes in; your order shows as "partially shipped" until then.

The estimated delivery date is the carrier's estimate when the parcel leaves us. Weather \
and peak seasons can delay parcels by a day or two. If your parcel has not arrived five \
business days after its estimated delivery date, or the tracking shows a delivery \
exception, contact us with your order number: we open an investigation with the carrier \
and, if the parcel is not found within seven business days, we send a replacement or \
refund you in full, whichever you prefer.

Please check that your address is complete before you order. We can change the address \
while the order is pending or processing; once a parcel has shipped, only the carrier \
can redirect it. Parcels returned to us as undeliverable are refunded once they arrive \
back at our warehouse."""

_WARRANTY = f"""\
Everything we sell is covered by our {WARRANTY_DAYS // 365}-year warranty \
({WARRANTY_DAYS} days from the date of delivery) against defects in materials and \
workmanship. This is in addition to your statutory rights, which it does not limit.

The warranty covers faults such as seams that come apart, zips or buckles that fail, \
delamination of waterproof membranes, soles that separate from shoes, and electronics \
that stop charging or working under normal use. It does not cover normal wear and tear, \
damage from accidents, misuse or alterations, or products bought from other sellers.

To make a claim, contact our support team with your order number, a short description of \
the problem and, where possible, a photo. We may ask you to send the item back; we pay \
for that shipping. We will repair the item, replace it with the same or an equivalent \
product, or refund the price you paid if neither is possible. A repaired or replaced \
item keeps the remaining warranty of the original, or 90 days, whichever is longer.

Batteries in electronics (power banks, headlamps, earbuds, speakers) are covered for the \
full {WARRANTY_DAYS} days if they keep less than 70 percent of their original capacity \
under normal use."""

_PAYMENT = f"""\
All prices on our shop are in US dollars (USD), and you are charged in US dollars. Your \
card issuer may convert the amount into your own currency. Prices include any sales tax \
or VAT we are required to collect.

We accept Visa, Mastercard and American Express cards, PayPal, Apple Pay and Google Pay. \
In the United Kingdom and Germany you can also pay later with Klarna (pay in 30 days), \
and customers in Germany can pay by bank transfer. {SHOP} gift cards can be combined \
with one other payment method: the gift card is used first and the rest is charged to \
your card or account.

We take payment when you place your order. If a payment is declined the order is \
cancelled automatically and nothing is charged; you are welcome to order again with \
another method. Orders paid by bank transfer stay pending until the money arrives, \
usually within one to three business days; please quote your order number as the \
payment reference. Unpaid orders are cancelled after seven days.

Refunds always go back to the method you paid with, never as cash or to a different card. \
A refund for a cancelled order is issued within hours; a refund for a return is issued \
once we have received and checked the item. Your statement shows the charge as \
"NORTHBEAM OUTFITTERS". We never ask for your card number by email, chat or phone."""

_PRIVACY = f"""\
{SHOP} collects the information you give us when you create an account or place an order: \
your name, email address, phone number, shipping address, order history and the messages \
you send to our support team. Payment details are handled by our payment providers; we \
only see the card brand and the last four digits.

We use this information to process and deliver your orders, to handle returns, \
exchanges and warranty claims, to answer your questions, and to prevent fraud. We share \
your name, address and phone number with the carrier delivering your parcel, and payment \
information with the payment provider you choose. We do not sell your personal data. We \
only send marketing emails if you have opted in, and every email has an unsubscribe link.

Our support chat can look up your orders, parcels and refunds once you are signed in, \
and only yours. Conversations are kept with your customer record so that a member of our \
team can pick up where the assistant left off.

We keep order and payment records for seven years because tax law requires it. Account \
details are kept until you close your account. You can ask for a copy of your data, ask \
us to correct it, or ask us to delete your account, by writing to privacy@example.com; we \
answer within 30 days. If you are in the UK or the EU you also have the right to complain \
to your data protection authority."""
