"""Signed tokens for the links in a digest: unsubscribe, preferences, and tracked clicks.

A token is `payload.signature`, both base64url: the payload is compact JSON
naming the action and the recipient (and, for a click, the item and its
link; a `scan` is a screen's QR code, whose "recipient" is the screen's id); the signature is an HMAC-SHA256 over the action and the payload with
the server's secret. A token is scoped to its action: an unsubscribe token
does not open the preferences page, and neither can be turned into the
other. Nothing in a token is secret, but nothing in it can be changed.

Tokens do not expire: a digest from last year must still unsubscribe.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

Action = Literal["unsubscribe", "preferences", "click", "scan"]


class BadToken(ValueError):
    """Forged, tampered, truncated, or for another action."""


@dataclass(frozen=True, slots=True)
class Claims:
    action: Action
    recipient: str
    item_id: int | None = None
    link: str | None = None


class Signer:
    def __init__(self, secret: str):
        if len(secret) < 16:
            raise ValueError("the link secret needs at least 16 characters")
        self._key = hashlib.sha256(b"intracast-links\0" + secret.encode()).digest()

    def sign(self, claims: Claims) -> str:
        data = {"a": claims.action, "r": claims.recipient}
        if claims.item_id is not None:
            data["i"] = claims.item_id
        if claims.link is not None:
            data["l"] = claims.link
        payload = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{payload}.{_b64(self._mac(claims.action, payload))}"

    def verify(self, token: str, action: Action) -> Claims:
        """The claims of a token made for `action`; `BadToken` otherwise."""
        payload, dot, signature = token.partition(".")
        # Compared as canonical text: base64's last character has spare bits, and a
        # token that differs only there must not verify (one token, one spelling).
        if not dot or not signature.isascii() or not hmac.compare_digest(signature, _b64(self._mac(action, payload))):
            raise BadToken("invalid token")
        data = json.loads(_unb64(payload))
        if data.get("a") != action or not isinstance(data.get("r"), str):
            raise BadToken("invalid token")
        return Claims(action, data["r"], data.get("i"), data.get("l"))

    @property
    def key_id(self) -> str:
        """A public name of the key: a hash of it, which tells nothing of the secret but changes with it."""
        return hashlib.sha256(b"intracast-key-id\0" + self._key).hexdigest()[:16]

    def _mac(self, action: str, payload: str) -> bytes:
        return hmac.new(self._key, f"{action}.{payload}".encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadToken("invalid token") from None
