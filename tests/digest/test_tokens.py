from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.tokens import BadToken, Claims, Signer

SIGNER = Signer("a-test-secret-of-enough-length")
actions = st.sampled_from(["unsubscribe", "preferences", "click"])
claims = st.builds(
    Claims, action=actions, recipient=st.emails(),
    item_id=st.none() | st.integers(min_value=1, max_value=2**40),
    link=st.none() | st.text(min_size=1, max_size=200),
)


@given(claims)
def test_sign_then_verify_round_trips(c: Claims) -> None:
    assert SIGNER.verify(SIGNER.sign(c), c.action) == c


@given(claims, actions)
def test_a_token_is_scoped_to_its_action(c: Claims, other: str) -> None:
    if other != c.action:
        with pytest.raises(BadToken):
            SIGNER.verify(SIGNER.sign(c), other)


@given(claims, st.integers(min_value=0), st.sampled_from("AQw-_.x="))
def test_any_change_to_a_token_is_refused(c: Claims, position: int, char: str) -> None:
    token = SIGNER.sign(c)
    i = position % len(token)
    tampered = token[:i] + char + token[i + 1:]
    if tampered != token:
        with pytest.raises(BadToken):
            SIGNER.verify(tampered, c.action)


def test_another_secret_or_garbage_is_refused() -> None:
    token = SIGNER.sign(Claims("unsubscribe", "an@example.org"))
    for bad in (Signer("another-secret-of-enough-length").sign(Claims("unsubscribe", "an@example.org")),
                "", ".", "nodot", token + "x", token.replace(".", ""), "%%%.%%%", token + "é", "é.é"):
        with pytest.raises(BadToken):
            SIGNER.verify(bad, "unsubscribe")


def test_a_recipient_cannot_be_swapped() -> None:
    an = SIGNER.sign(Claims("unsubscribe", "an@example.org"))
    bo = SIGNER.sign(Claims("unsubscribe", "bo@example.org"))
    forged = bo.split(".")[0] + "." + an.split(".")[1]
    with pytest.raises(BadToken):
        SIGNER.verify(forged, "unsubscribe")
