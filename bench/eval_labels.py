"""The evaluation data's labels as this project reads them, shared by the benchmarks:
which tier should answer each label (and which tiers answer it acceptably), and which
labels ask for a person or for a stronger model. Our own mapping, documented here. Also
the replays' traffic model (``popular_stream``)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")

PERSON_LABELS = {"contact_human_agent", "CHAT_WITH_AGENT"}
STRONGER = {"complaint", "RECOMMEND_PRODUCT", "COMPARISON"}

# label -> (the tier that should answer, the tiers that answer acceptably)
TIERS: dict[str, tuple[int, set[int]]] = {
    # Bitext
    "track_order": (0, {0}),
    "delivery_period": (0, {0, 1}),
    "track_refund": (0, {0}),
    "check_refund_policy": (1, {0, 1}),
    "check_cancellation_fee": (1, {1}),
    "check_invoice": (1, {1}),
    "get_invoice": (1, {1}),
    "check_payment_methods": (1, {1}),
    "contact_customer_service": (1, {1}),
    "create_account": (1, {1, 2}),
    "delete_account": (1, {1, 2}),
    "edit_account": (1, {1, 2}),
    "switch_account": (1, {1, 2}),
    "recover_password": (1, {1, 2}),
    "registration_problems": (1, {1, 2}),
    "newsletter_subscription": (1, {1, 2}),
    "delivery_options": (1, {1, 2}),
    "place_order": (1, {1, 2}),
    "review": (1, {1, 2}),
    "set_up_shipping_address": (1, {1, 2}),
    "change_shipping_address": (1, {1, 2}),
    "cancel_order": (1, {1, 2, 3}),
    "change_order": (1, {1, 2, 3}),
    "get_refund": (1, {0, 1, 2, 3}),
    "payment_issue": (1, {1, 2, 3}),
    "complaint": (3, {2, 3}),
    "contact_human_agent": (3, {3}),
    # HINT3 CureKart
    "ORDER_STATUS": (0, {0}),
    "ORDER_QUERY": (0, {0, 1}),
    "DELAY_IN_PARCEL": (0, {0, 2, 3}),
    "RESUME_DELIVERY": (0, {0, 1, 2}),
    "RECOMMEND_PRODUCT": (2, {2, 3}),
    "CONSULT_START": (2, {1, 2, 3}),
    "REFUNDS_RETURNS_REPLACEMENTS": (1, {0, 1, 2, 3}),
    "ORDER_TAKING": (1, {1, 2}),
    "PAYMENT_AND_BILL": (1, {1, 2}),
    "ORIGINAL_PRODUCT": (2, {1, 2}),
    "CALL_CENTER": (1, {1}),
    "MODIFY_ADDRESS": (1, {1, 2}),
    "CHECK_PINCODE": (1, {1}),
    "STORE_INFORMATION": (1, {1}),
    "REFER_EARN": (1, {1, 2}),
    "CANCEL_ORDER": (1, {1, 2, 3}),
    "FRANCHISE": (1, {1, 2}),
    "USER_GOAL_FORM": (2, {1, 2, 3}),
    "WORK_FROM_HOME": (1, {1, 2}),
    "EXPIRY_DATE": (2, {1, 2}),
    "MODES_OF_PAYMENTS": (1, {1}),
    "SIGN_UP": (1, {1, 2}),
    "IMMUNITY": (2, {2, 3}),
    "START_OVER": (1, {1, 2}),
    "PORTAL_ISSUE": (2, {1, 2, 3}),
    "SIDE_EFFECT": (2, {2, 3}),
    "INTERNATIONAL_SHIPPING": (1, {1, 2}),
    "CHAT_WITH_AGENT": (3, {3}),
    # HINT3 SOFMattress
    "DISTRIBUTORS": (1, {1, 2}),
    "EMI": (1, {1}),
    "MATTRESS_COST": (1, {1, 2}),
    "LEAD_GEN": (1, {1, 2, 3}),
    "PRODUCT_VARIANTS": (2, {1, 2, 3}),
    "WHAT_SIZE_TO_ORDER": (2, {2, 3}),
    "100_NIGHT_TRIAL_OFFER": (1, {1}),
    "ORTHO_FEATURES": (2, {2, 3}),
    "RETURN_EXCHANGE": (1, {1, 2, 3}),
    "COD": (1, {1}),
    "ERGO_FEATURES": (2, {2, 3}),
    "COMPARISON": (2, {2, 3}),
    "ABOUT_SOF_MATTRESS": (1, {1, 2}),
    "DELAY_IN_DELIVERY": (0, {0, 2, 3}),
    "WARRANTY": (1, {1}),
    "PILLOWS": (2, {1, 2}),
    "OFFERS": (1, {1, 2}),
    "SIZE_CUSTOMIZATION": (2, {2, 3}),
}


def popular_stream(
    shop: Sequence[T], key: Callable[[T], Hashable], messages: int, rng: random.Random
) -> tuple[list[T], int]:
    """A shop's traffic with realistic repetition, and how many distinct questions it
    draws from: questions (messages with the same ``key``: label, and entities where the
    source has them) are asked with Zipf-like popularity (the r-th most popular about
    1/r^0.9 as often), mostly in their own words (any message of the question), sometimes
    word for word (one of its first three)."""
    groups: dict[Hashable, list[T]] = defaultdict(list)
    for item in shop:
        groups[key(item)].append(item)
    keys = list(groups)
    rng.shuffle(keys)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(keys))]
    stream = []
    for _ in range(messages):
        group = groups[rng.choices(keys, weights)[0]]
        stream.append(rng.choice(group[:3]) if rng.random() < 0.3 else rng.choice(group))
    return stream, len(keys)
