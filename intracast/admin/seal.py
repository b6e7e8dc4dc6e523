"""Signed cookie values: compact JSON and an HMAC-SHA256, `payload.signature` in base64url.

Each use has its own key, derived from `server.secret` and a purpose
(domain separation): a flash message cannot be passed off as a session, and
neither verifies as a digest link, which signs with the same secret.
Nothing in a sealed value is secret; nothing in it can be changed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

PREFIX = b"intracast/admin/"


class Seal:
    def __init__(self, secret: str, purpose: str, context: bytes = b""):
        """`context`: anything else the key must depend on (a session's: the password hash)."""
        message = PREFIX + purpose.encode() + b"\0" + context
        self._key = hmac.new(secret.encode(), message, hashlib.sha256).digest()

    def seal(self, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def open(self, value: str | None) -> dict[str, Any] | None:
        """The data of a value this seal made; None for anything else."""
        payload, dot, signature = (value or "").partition(".")
        # Compared as canonical text: one value, one spelling (base64's spare bits cannot vary).
        if not dot or not signature.isascii() or not hmac.compare_digest(signature, _b64(self._mac(payload))):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _mac(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
