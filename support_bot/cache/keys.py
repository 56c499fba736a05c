"""What a cached answer is filed under: its scope, partition and exact key.

- **Scope.** An answer built from a customer's data (their name and orders were in the
  prompt) belongs to that customer and to a fingerprint of the order context it was
  built from, so a changed order is a different scope and the old answer is never
  served. Everything else (policies, FAQs, how-to for a shopper who is not signed in) is
  shared, keyed by language and the policy versions. Nothing crosses customers.
- **Partition.** Scope, intent and the question's entities: a semantic search only ever
  looks inside one partition, so a hit agrees on all three by construction.
- **Exact key.** Partition plus the normalised text; for a question whose intent is
  confident, the partition and the actions it names (the *answer key*). The catalogue
  has one intent per answer, so two confident questions of one intent, with the same
  entities and actions, want the same answer whatever their wording, and the lookup is
  one key read.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from orders.context import order_context_build, order_context_render
from routing.classifier import catalogue_version
from routing.policies import PolicyVersion, policy_versions
from routing.products import ProductFact
from support_bot.prompt import PROMPT_VERSION

SHARED = "shared"
# Intents whose answer depends on the customer's own orders, payments or parcels. With
# a signed-in customer the prompt holds their data anyway (see ``prompt_has_customer``);
# this list keeps them per customer even if the prompt someday leaves it out.
CUSTOMER_INTENTS = frozenset(
    {
        "order_status",
        "track_order",
        "delivery_estimate",
        "refund_status",
        "return_window",
        "cancel_order",
        "change_order",
        "refund_request",
        "payment_problem",
        "delivery_problem",
        "damaged_or_wrong_item",
        "multi_order_issue",
        "exchange",
        "get_invoice",
        "check_invoice",
        "address_change",
        "address_setup",
        # About what happened to this shopper, though no intent above names it.
        "complaint",
        "negotiation",
    }
)
# Entities that may point at the shopper's own records (an order or invoice number, a
# code, a date, an email, a name): a question naming one is about them, whatever its intent.
_PERSONAL_ENTITY_KINDS = ("num:", "code:", "email:", "url:", "name:", "month:", "day:")
_SPACE = re.compile(r"\s+")
_EDGE_PUNCTUATION = re.compile(r"^[\s\W_]+|[\s\W_]+$")


@dataclass(frozen=True)
class CacheQuery:
    """One shopper question, as the cache sees it."""

    text: str
    normalized: str
    intent: str
    language: str
    scope: str  # "shared" or "customer:<id>"
    scope_key: str  # scope + language + policy versions (+ order context fingerprint)
    entities: frozenset[str]
    vector: bytes  # float32, unit length
    semantic: bool = True  # False: the intent is a guess, so only an exact hit will do
    # The intent is confident enough to stand for the answer (see ``answer_keyed``).
    keyed: bool = False
    frame: frozenset[str] = frozenset()  # the actions it names (``frames``)
    confidence: float = 0.0  # the intent's score
    margin: float = 0.0  # over the runner-up intent

    @property
    def partition(self) -> str:
        entities = "|".join(sorted(self.entities))
        return _digest(f"{self.scope_key}\x1f{self.intent}\x1f{entities}")

    @property
    def exact_key(self) -> str:
        if self.keyed:
            return _digest(f"{self.partition}\x1fanswer\x1f{'|'.join(sorted(self.frame))}")
        return _digest(f"{self.partition}\x1f{self.normalized}")

    @property
    def customer_id(self) -> int | None:
        return int(self.scope.split(":", 1)[1]) if self.scope != SHARED else None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def text_normalize(text: str) -> str:
    """Case, width, spacing and outer punctuation do not change a question."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _EDGE_PUNCTUATION.sub("", _SPACE.sub(" ", folded)).strip()


def policy_fingerprint(versions: Sequence[PolicyVersion] | None = None) -> str:
    """What a shared prompt and the filing depend on: every policy's key and version, the
    shop's name, and the version of the intent catalogue the message was routed with.

    A new version of the prompt's wording (``PROMPT_VERSION``) retires them too.

    Any policy edit raises its version, so every shared answer written before it is in
    an old scope and is never served again (it ages out of the store): the versions are
    read for every message (``versions``, when the caller has them already). An edit of
    the intent catalogue re-files questions under other intents, so it starts afresh too,
    as soon as this process's classifier sees it (no query of its own).
    """
    if versions is None:
        versions = policy_versions()
    policies = sorted((v.key, v.version) for v in versions)
    return _digest(
        f"{settings.SHOP_NAME}\x1f{policies}\x1f{catalogue_version()}\x1f{PROMPT_VERSION}"
    )


def context_fingerprint(*, customer_id: int, text: str) -> str:
    """A hash of the order context the prompt for this message is built from."""
    return context_digest(
        order_context_render(order_context_build(customer_id=customer_id, message=text))
    )


def context_digest(orders_text: str) -> str:
    """``context_fingerprint`` of an order context already rendered for the prompt."""
    return _digest(orders_text)


def answer_keyed(*, semantic: bool, tier: int, confidence: float, margin: float) -> bool:
    """Whether a question's intent is sure enough to file its answer under the intent.

    Only a tier-1 intent (a policy, an FAQ, an account how-to) has one answer for every
    way of asking it. From tier 2 up the answer turns on what exactly is asked ("which
    mattress for my back" against "which mattress is cheapest", a comparison of two
    named models), so such a question is served only an answer to one worded like it.
    Routing's own threshold (``semantic``) is for choosing a tier; serving another
    shopper's answer needs a clearer winner, both in score and over the runner-up.
    """
    return (
        semantic
        and tier <= 1
        and confidence >= float(settings.CACHE_INTENT_CONFIDENCE)
        and margin >= float(settings.CACHE_INTENT_MARGIN)
    )


def answer_is_general(*, intent: str, entities: frozenset[str], keyed: bool) -> bool:
    """Whether every shopper would get the same answer: the intent is sure enough to
    stand for the answer (``answer_keyed``), it is not about the customer's own orders,
    and nothing in the question points at their records. Such a question is answered
    without the customer's data, so the answer is shared."""
    return (
        keyed
        and intent not in CUSTOMER_INTENTS
        and not any(entity.startswith(_PERSONAL_ENTITY_KINDS) for entity in entities)
    )


def cache_scope(*, intent: str, customer_id: int | None, prompt_has_customer: bool) -> str:
    """Shared, unless the answer depends on (or was built from) a customer's data."""
    if customer_id is None:
        return SHARED
    if prompt_has_customer or intent in CUSTOMER_INTENTS:
        return f"customer:{customer_id}"
    return SHARED


def scope_key(
    *, scope: str, language: str, policies: str, context: str | None, products: str = ""
) -> str:
    parts = [scope, language or "en", policies]
    if scope != SHARED:
        parts.append(context or "")
    if products:  # the answer was written from these products' facts
        parts.append(products)
    return "\x1f".join(parts)


def products_digest(products: Sequence[ProductFact]) -> str:
    """A hash of the product facts a prompt held (prices and stock included); "" for none."""
    return _digest("\x1e".join(p.line() for p in products)) if products else ""
