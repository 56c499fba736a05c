"""Signed customer tokens: how a shop's backend tells the widget who is logged in.

A token is ``<payload>.<signature>``, both base64url without padding. The payload is the
JSON ``{"sub": "<customer external id>", "exp": <unix seconds>}``; the signature is
HMAC-SHA256 of the payload part with the secret shared with the shop's backend
(``SHOP_TOKEN_SECRET``). docs/identity.md shows how a shop makes one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from django.conf import settings

MAX_TOKEN_LENGTH = 1024


class InvalidCustomerToken(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def customer_token_make(
    *, external_id: str, ttl_seconds: int = 3600, secret: str | None = None
) -> str:
    """What a shop's backend does (this is also what the demo shop page does)."""
    payload = _b64(json.dumps({"sub": external_id, "exp": int(time.time()) + ttl_seconds}).encode())
    return f"{payload}.{_sign(payload, secret or str(settings.SHOP_TOKEN_SECRET))}"


def customer_token_verify(token: str, *, secret: str | None = None) -> str:
    """The customer's external id, or InvalidCustomerToken."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise InvalidCustomerToken("malformed")
    payload, signature = token.split(".")
    expected = _sign(payload, secret or str(settings.SHOP_TOKEN_SECRET))
    if not hmac.compare_digest(signature, expected):
        raise InvalidCustomerToken("bad signature")
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, UnicodeDecodeError):
        raise InvalidCustomerToken("malformed") from None
    if not isinstance(claims, dict):
        raise InvalidCustomerToken("malformed")
    subject, expiry = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not subject or not isinstance(expiry, int):
        raise InvalidCustomerToken("malformed")
    if expiry < time.time():
        raise InvalidCustomerToken("expired")
    return subject
