"""Policy passages for the prompt, and the version check that makes an edit count at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from orders.models import Policy
from routing.embeddings import embed, embed_many
from routing.policies import policy_passages, policy_versions
from support_bot.cache.keys import policy_fingerprint
from tests.factories import PolicyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

QUESTION = "How many days do I have to return something?"


def passage_texts(question: str = QUESTION) -> list[str]:
    return [passage.text for passage in policy_passages(embed(question))]


def test_the_relevant_passage_is_found(warm_models: None) -> None:
    PolicyFactory.create(
        key="returns", title="Returns", body="Items can be returned within 30 days."
    )
    PolicyFactory.create(key="privacy", title="Privacy", body="We never sell your personal data.")

    assert passage_texts()[0] == "Items can be returned within 30 days."


def test_a_policy_edit_is_seen_by_the_next_message(warm_models: None) -> None:
    policy = PolicyFactory.create(key="returns", body="Items can be returned within 30 days.")
    before = policy_fingerprint()
    assert passage_texts() == ["Items can be returned within 30 days."]

    # An edit that bypasses save() (a bulk update, an import) counts as well.
    Policy.objects.filter(pk=policy.pk).update(
        body="Items can be returned within 60 days, free of charge.", version=2
    )

    assert passage_texts() == ["Items can be returned within 60 days, free of charge."]
    assert policy_fingerprint() != before


def test_one_read_of_the_versions_serves_the_passages_and_the_cache_key(
    warm_models: None, django_assert_num_queries: Any
) -> None:
    PolicyFactory.create(key="returns", body="Items can be returned within 30 days.")
    # The passages of this version are embedded once, and the intent catalogue read.
    expected = (passage_texts(), policy_fingerprint())
    versions = policy_versions()

    with django_assert_num_queries(0):
        passages = policy_passages(embed(QUESTION), versions=versions)
        fingerprint = policy_fingerprint(versions)

    assert ([p.text for p in passages], fingerprint) == expected


def test_the_message_and_the_passages_are_embedded_alike(warm_models: None) -> None:
    longer_than_the_model_reads = " ".join(["return"] * 250)
    texts = [
        "Where is my order?",
        "Wo ist meine Bestellung #100001?",
        "x",
        longer_than_the_model_reads,
    ]
    for text in texts:
        # A message may go through ONNX Runtime, the passages through torch: the same
        # model, equal to ~1e-7 (a graph further off is refused, routing.embeddings).
        assert np.abs(embed(text) - embed_many([text])[0]).max() < 1e-5, text
