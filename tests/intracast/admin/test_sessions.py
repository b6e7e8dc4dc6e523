"""Sealed cookie values and sessions, without a server: tampering, purposes, expiry, CSRF tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from intracast.admin.config import AdminConfig
from intracast.admin.seal import Seal
from intracast.admin.sessions import COOKIE, Sessions
from tests.intracast.admin.conftest import NOW, SECRET, password_hash

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_a_sealed_value_opens_to_what_was_sealed(data: dict) -> None:
    seal = Seal(SECRET, "test")
    assert seal.open(seal.seal(data)) == data


@given(st.text(max_size=200))
def test_no_made_up_value_opens(value: str) -> None:
    assert Seal(SECRET, "test").open(value) is None


def test_a_value_opens_only_with_its_secret_purpose_and_context() -> None:
    value = Seal(SECRET, "session", b"ctx").seal({"u": "admin"})
    assert Seal(SECRET, "session", b"ctx").open(value) == {"u": "admin"}
    for other in (Seal(SECRET, "flash", b"ctx"), Seal(SECRET, "session", b"other"),
                  Seal("another-secret-of-enough-length", "session", b"ctx")):
        assert other.open(value) is None
    payload, _, signature = value.partition(".")
    assert Seal(SECRET, "session", b"ctx").open(f"{payload}x.{signature}") is None


def sessions(lifetime: str = "12h") -> Sessions:
    return Sessions(SECRET, AdminConfig(password_hash=password_hash(), session_lifetime=lifetime))


def cookie_of(session_store: Sessions, user: str | None) -> dict[str, str]:
    from aiohttp import web

    response = web.Response()
    session = session_store.new(user, NOW)
    session_store.write(response, make_mocked_request("GET", "/admin/"), session)
    return {COOKIE: response.cookies[COOKIE].value}


@pytest.mark.parametrize(("after", "valid"), [(timedelta(0), True), (timedelta(hours=11, minutes=59), True),
                                               (timedelta(hours=12), False), (timedelta(minutes=-2), False)])
def test_a_session_lasts_its_lifetime(after: timedelta, valid: bool) -> None:
    store = sessions()
    request = make_mocked_request("GET", "/admin/", headers={"Cookie": f"{COOKIE}={cookie_of(store, 'admin')[COOKIE]}"})
    session = store.read(request, NOW + after)
    assert (session is not None) is valid
    if session is not None:
        assert session.user == "admin"


def test_a_csrf_token_belongs_to_its_session() -> None:
    store = sessions()
    one, two = store.new("admin", NOW), store.new("admin", NOW)
    assert one.csrf_ok(one.csrf_token) and not one.csrf_ok(two.csrf_token)
    for bad in (None, "", "é" * 43, one.csrf_secret, 42):
        assert not one.csrf_ok(bad)
