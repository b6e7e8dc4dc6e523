"""The admin's password hash: scrypt from the standard library, as one self-describing string.

`scrypt$N$r$p$SALT$HASH` (salt and hash base64) carries its own cost, so a
hash made today still verifies after the default cost is raised. scrypt is
memory-hard (16 MiB at N=2**14, r=8), which makes guessing on GPUs expensive;
`hashlib.scrypt` needs no new dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
# A hash from the config may not make a login allocate more than this (scrypt needs 128*N*r bytes).
MAX_MEMORY = 2**26
HINT = "make one with `intracast admin hash-password`"


@dataclass(frozen=True, slots=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> ScryptHash:
        """The parts of `scrypt$N$r$p$SALT$HASH`; `ValueError` naming what is wrong."""
        parts = text.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError(f"not a password hash (expected scrypt$N$r$p$salt$hash); {HINT}")
        try:
            n, r, p = (int(part) for part in parts[1:4])
            salt, digest = (base64.b64decode(part, validate=True) for part in parts[4:])
        except (ValueError, binascii.Error):
            raise ValueError(f"a malformed scrypt hash; {HINT}") from None
        if n < 2 or n & (n - 1) or r < 1 or not 0 < p <= 4 or 128 * n * r > MAX_MEMORY or not (salt and digest):
            raise ValueError(
                f"scrypt parameters out of range (N a power of 2, 128*N*r at most 64 MiB, p up to 4); {HINT}"
            )
        return cls(n, r, p, salt, digest)

    def __str__(self) -> str:
        salt, digest = (base64.b64encode(part).decode() for part in (self.salt, self.digest))
        return f"scrypt${self.n}${self.r}${self.p}${salt}${digest}"


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(SALT_BYTES)
    return str(ScryptHash(N, R, P, salt, _scrypt(password, salt, N, R, P, HASH_BYTES)))


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`; a malformed `stored` matches nothing."""
    try:
        known = ScryptHash.parse(stored)
    except ValueError:
        return False
    attempt = _scrypt(password, known.salt, known.n, known.r, known.p, len(known.digest))
    return hmac.compare_digest(attempt, known.digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY + 2**20, dklen=length)
