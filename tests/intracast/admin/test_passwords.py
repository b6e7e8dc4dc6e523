"""The admin's password hash: scrypt round trip, refusal, and hashes that cannot be used."""

from __future__ import annotations

import hashlib

import pytest

from intracast.admin.passwords import ScryptHash, hash_password, verify_password
from tests.intracast.admin.conftest import PASSWORD, password_hash


def test_a_hash_verifies_its_password_and_refuses_any_other() -> None:
    stored = password_hash()
    assert verify_password(PASSWORD, stored)
    for other in ("", PASSWORD.upper(), PASSWORD + " ", PASSWORD[:-1]):
        assert not verify_password(other, stored)


def test_a_hash_says_how_it_was_made_and_is_salted() -> None:
    parsed = ScryptHash.parse(password_hash())
    assert (parsed.n, parsed.r, parsed.p, len(parsed.salt), len(parsed.digest)) == (2**14, 8, 1, 16, 32)
    assert str(parsed) == password_hash()
    assert password_hash().startswith("scrypt$16384$8$1$")
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_a_hash_of_other_parameters_still_verifies() -> None:
    salt = b"sixteen byte salt"[:16]
    digest = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=4, p=1, dklen=24)
    made = str(ScryptHash(2**10, 4, 1, salt, digest))
    assert made.startswith("scrypt$1024$4$1$")
    assert verify_password("pw", made) and not verify_password("pW", made)


def test_an_empty_password_is_not_hashed() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


@pytest.mark.parametrize("stored", [
    "", "hunter2", "scrypt$16384$8$1$c2FsdA==", "bcrypt$16384$8$1$c2FsdA==$aGFzaA==",
    "scrypt$x$8$1$c2FsdA==$aGFzaA==", "scrypt$16384$8$1$not base64$aGFzaA==",
    "scrypt$1000$8$1$c2FsdA==$aGFzaA==",  # N not a power of 2
    "scrypt$1048576$8$1$c2FsdA==$aGFzaA==",  # 1 GiB of memory per login
    "scrypt$16384$8$1$$aGFzaA==",
])
def test_a_malformed_hash_matches_nothing_and_says_how_to_make_one(stored: str) -> None:
    assert not verify_password("", stored) and not verify_password("hunter2", stored)
    with pytest.raises(ValueError, match="intracast admin hash-password"):
        ScryptHash.parse(stored)
