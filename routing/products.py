"""The shop's products relevant to a question about products: what it is, what it is made
of, which sizes and colours it comes in, what it costs, whether it is in stock.

Each product is embedded once for its name, category and description; the message's own
vector comes from routing, embedded once. Each process reads the catalogue again at most
every ``RECHECK_SECONDS`` (only products whose text changed are embedded again); prices,
options and stock are read with the products chosen, for every message, so they are
never stale.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from orders.models import Product, ProductVariant
from routing.embeddings import embed_many

# The intents whose answer is about products; other questions carry no product facts.
PRODUCT_INTENTS = frozenset(
    {
        "product_recommendation",
        "product_comparison",
        "sizing",
        "product_info",
        "product_price",
        "product_availability",
        "custom_size",
    }
)
LIMIT = 3
MIN_SIMILARITY = 0.2
RECHECK_SECONDS = 30.0


@dataclass(frozen=True)
class ProductFact:
    name: str
    category: str
    description: str
    prices: str  # "USD 129.00", "USD 79.00 to 89.00"
    options: str  # "size: S, M, L, XL; colour: red, navy"
    stock: str  # "in stock", "sold out", "sold out in: size XL"

    def line(self) -> str:
        parts = [f"{self.name} ({self.category})" if self.category else self.name]
        parts.append(self.prices)
        if self.description:
            parts.append(self.description)
        if self.options:
            parts.append(self.options)
        parts.append(self.stock)
        return "; ".join(part for part in parts if part)


@dataclass(frozen=True)
class _Index:
    ids: tuple[int, ...]
    vectors: np.ndarray
    read_at: float


_lock = threading.Lock()
_index: _Index | None = None
_vectors: dict[str, np.ndarray] = {}  # by text: an edit embeds only what changed


def _text(name: str, category: str, description: str) -> str:
    return f"{name}. {category}. {description}".strip()


def _catalogue() -> _Index:
    global _index
    with _lock:
        if _index is not None and time.monotonic() - _index.read_at < RECHECK_SECONDS:
            return _index
        rows = list(
            Product.objects.order_by("id").values_list("id", "name", "category", "description")
        )
        texts = [_text(name, category, description) for _, name, category, description in rows]
        missing = [text for text in dict.fromkeys(texts) if text not in _vectors]
        if missing:
            _vectors.update(zip(missing, embed_many(missing), strict=True))
        vectors = (
            np.stack([_vectors[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)
        )
        _index = _Index(tuple(row[0] for row in rows), vectors, time.monotonic())
        return _index


def products_warm() -> None:
    """Embed the catalogue now (worker start), not on the first product question."""
    _catalogue()


def reset() -> None:
    """Forget the catalogue read (tests, after the database is flushed)."""
    global _index
    with _lock:
        _index = None


def product_facts(vector: np.ndarray, *, intent: str, limit: int = LIMIT) -> list[ProductFact]:
    """The products most similar to the message, best first, for a question about
    products (``PRODUCT_INTENTS``); nothing for any other question."""
    if intent not in PRODUCT_INTENTS:
        return []
    index = _catalogue()
    if not index.ids:
        return []
    scores = index.vectors @ np.asarray(vector, dtype=np.float32)
    best = [int(i) for i in np.argsort(-scores)[:limit] if scores[i] >= MIN_SIMILARITY]
    chosen = [index.ids[i] for i in best]
    return _facts(chosen)


def _facts(product_ids: Sequence[int]) -> list[ProductFact]:
    products = Product.objects.in_bulk(product_ids)
    variants: dict[int, list[tuple[dict[str, str], Decimal, str, bool]]] = defaultdict(list)
    for product_id, options, price, currency, available in ProductVariant.objects.filter(
        product_id__in=product_ids
    ).values_list("product_id", "options", "price", "currency", "available"):
        variants[product_id].append(
            (options if isinstance(options, dict) else {}, price, currency, available)
        )
    return [_fact(products[pk], variants.get(pk, [])) for pk in product_ids if pk in products]


def _fact(
    product: Product, variants: list[tuple[dict[str, str], Decimal, str, bool]]
) -> ProductFact:
    prices = sorted({(currency, price) for _, price, currency, _ in variants})
    if not prices:
        price_text = "price not listed"
    elif prices[0] == prices[-1]:
        price_text = f"{prices[0][0]} {prices[0][1]:.2f}"
    else:
        price_text = f"{prices[0][0]} {prices[0][1]:.2f} to {prices[-1][1]:.2f}"
    values: dict[str, list[str]] = defaultdict(list)
    for options, _, _, _ in variants:
        for key, value in options.items():
            if str(value) not in values[str(key)]:
                values[str(key)].append(str(value))
    options_text = "; ".join(f"{key}: {', '.join(found)}" for key, found in values.items())
    sold_out = [options for options, _, _, available in variants if not available]
    if not variants or len(sold_out) == len(variants):
        stock = "sold out" if variants else "stock not listed"
    elif sold_out:
        stock = "sold out in: " + ", ".join(
            " ".join(str(v) for v in options.values()) or "one variant" for options in sold_out
        )
    else:
        stock = "in stock"
    return ProductFact(
        name=product.name,
        category=product.category,
        description=product.description.strip(),
        prices=price_text,
        options=options_text,
        stock=stock,
    )
