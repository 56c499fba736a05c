from __future__ import annotations

from collections.abc import Callable

import pytest

from support_bot.identity import InvalidCustomerToken, customer_token_make, customer_token_verify

pytestmark = pytest.mark.embedded


def test_a_token_made_by_the_shop_names_its_customer() -> None:
    token = customer_token_make(external_id="C-1001", secret="shared")
    assert customer_token_verify(token, secret="shared") == "C-1001"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # signature changed
        lambda t: (
            "eyJzdWIiOiJDLTEwMDIiLCJleHAiOjk5OTk5OTk5OTl9." + t.split(".")[1]
        ),  # other payload
        lambda t: t.replace(".", ""),
        lambda t: "x" * 2000,
        lambda t: "",
    ],
)
def test_a_forged_or_damaged_token_is_refused(mangle: Callable[[str], str]) -> None:
    token = customer_token_make(external_id="C-1001", secret="shared")
    with pytest.raises(InvalidCustomerToken):
        customer_token_verify(mangle(token), secret="shared")


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = customer_token_make(external_id="C-1001", secret="not-the-shop")
    with pytest.raises(InvalidCustomerToken):
        customer_token_verify(token, secret="shared")


def test_an_expired_token_is_refused() -> None:
    token = customer_token_make(external_id="C-1001", secret="shared", ttl_seconds=-1)
    with pytest.raises(InvalidCustomerToken, match="expired"):
        customer_token_verify(token, secret="shared")
