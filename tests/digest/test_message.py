"""The digest as an RFC 5322 message: headers, parts, Message-ID, no injection."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.message import build_message, message_id
from digest.render import Rendered
from digest.store import DeliveryKey

WINDOW_END = datetime(2026, 11, 24, 7, 30, tzinfo=timezone.utc)
KEY = DeliveryKey("daily", "zoe@example.org", WINDOW_END)
RENDERED = Rendered(
    subject="11 nieuwe berichten op Plek — één overzicht",
    preheader="Nieuwe parkeerregeling",
    html='<!DOCTYPE html><html lang="nl"><body><p>Hallo Zoë,</p>' + "<p>" + "x" * 2000 + "</p></body></html>\n",
    text="Hallo Zoë,\n\n* Nieuwe parkeerregeling\n  https://intranet.example.org/nieuws/1?a=1&b=2\n",
)
UNSUBSCRIBE = "https://intracast.example.org/u/tok.abc"


def build(rendered: Rendered = RENDERED, **changes: object) -> EmailMessage:
    options: dict[str, object] = dict(
        sender="digest@intranet.example.org", sender_name="Plek", to_email="zoe@example.org",
        to_name="Zoë de Vries", key=KEY, domain="intranet.example.org", list_id="daily.intranet.example.org",
        unsubscribe_url=UNSUBSCRIBE, unsubscribe_mailto="mailto:unsubscribe@intranet.example.org?subject=tok.abc",
        date=datetime(2026, 11, 24, 8, 30, tzinfo=ZoneInfo("Europe/Amsterdam")),
    )
    options.update(changes)
    return build_message(rendered, **options)  # type: ignore[arg-type]


def parsed(message: EmailMessage) -> EmailMessage:
    """What a receiving client sees: the stored bytes, parsed again."""
    result = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(result, EmailMessage)
    return result


def test_headers_parse_back() -> None:
    mail = parsed(build())
    assert mail["From"].addresses[0].display_name == "Plek"
    assert mail["From"].addresses[0].addr_spec == "digest@intranet.example.org"
    assert mail["To"].addresses[0].display_name == "Zoë de Vries"
    assert mail["To"].addresses[0].addr_spec == "zoe@example.org"
    assert mail["Subject"] == RENDERED.subject
    assert mail["Date"].datetime == datetime(2026, 11, 24, 7, 30, tzinfo=timezone.utc)
    # Folded onto its own line (the id is longer than fits after the name); unfolded it is the same.
    assert mail["Message-ID"].strip() == message_id(KEY, "intranet.example.org")
    assert mail["List-Id"] == '"Plek daily" <daily.intranet.example.org>'
    assert mail["List-Unsubscribe"] == (
        "<https://intracast.example.org/u/tok.abc>, <mailto:unsubscribe@intranet.example.org?subject=tok.abc>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert "Precedence" not in mail
    assert mail["MIME-Version"] == "1.0"


def test_raw_headers_are_ascii_and_encoded() -> None:
    raw = build().as_bytes()
    head = raw[: raw.index(b"\r\n\r\n")]
    head.decode("ascii")
    assert b"To: =?utf-8?q?Zo=C3=AB?= de Vries <zoe@example.org>\r\n" in head
    assert re.search(rb"\r\nSubject: [^\r]*=\?utf-8\?", head)
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in head
    # 78 is RFC 5322's recommendation; the headers that machines parse keep their one token whole (998 at most).
    machine_read = (b"Message-ID: ", b"List-Id: ", b"List-Unsubscribe: ")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(machine_read))
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_parts_text_first_then_html() -> None:
    mail = parsed(build())
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    # On the wire lines end in CRLF; the content is otherwise what was rendered.
    assert text.get_content().replace("\r\n", "\n") == RENDERED.text
    assert html.get_content().replace("\r\n", "\n") == RENDERED.html
    assert text["MIME-Version"] is None and html["MIME-Version"] is None
    assert mail.get_body(preferencelist=("html",)) is not None


def test_without_mailto_only_the_web_link() -> None:
    mail = parsed(build(unsubscribe_mailto=None))
    assert mail["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"


def test_plain_http_unsubscribe_is_not_one_click() -> None:
    mail = parsed(build(unsubscribe_url="http://127.0.0.1:8080/u/tok.abc", unsubscribe_mailto=None))
    assert mail["List-Unsubscribe"] == "<http://127.0.0.1:8080/u/tok.abc>"
    assert "List-Unsubscribe-Post" not in mail


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://x.example/u/a>, <https://evil.example", "ftp://x/u"])
def test_unusable_unsubscribe_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        build(unsubscribe_url=url)


def test_non_ascii_sender_name_in_list_id() -> None:
    mail = parsed(build(sender_name="Plék"))
    assert mail["From"].addresses[0].display_name == "Plék"
    assert str(mail["List-Id"]) == "Plék daily <daily.intranet.example.org>"


def test_a_long_non_ascii_list_name_is_short_encoded_words_then_the_plain_id() -> None:
    name = "Zorggroep Één Noord-Holland — het dagelijkse overzicht"
    raw = build(sender_name=name).as_bytes()
    [list_id] = re.findall(rb"^List-Id: ([^\r]*)\r\n", raw, flags=re.MULTILINE)
    *words, identifier = list_id.split(b" ")
    assert identifier == b"<daily.intranet.example.org>"
    assert words and all(re.fullmatch(rb"=\?utf-8\?[qb]\?[!-~]+\?=", w) and len(w) <= 75 for w in words)
    assert str(parsed(build(sender_name=name))["List-Id"]) == f"{name} daily <daily.intranet.example.org>"


def test_a_mailto_beside_a_long_link_folds_between_the_entries_only() -> None:
    long_url = "https://intracast.example.org/u/" + "x" * 120
    raw = build(unsubscribe_url=long_url).as_bytes()
    assert (f"\r\nList-Unsubscribe: <{long_url}>,\r\n <mailto:unsubscribe@intranet.example.org?subject=tok.abc>\r\n"
            .encode() in raw)


def test_a_non_ascii_unsubscribe_target_is_refused() -> None:
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        build(unsubscribe_url="https://intracast.example.org/u/café")


def test_list_id_must_be_a_list_id() -> None:
    with pytest.raises(ValueError, match="List-Id"):
        build(list_id="daily news.example.org")


# Message-ID ----------------------------------------------------------------


def test_message_id_shape() -> None:
    digest = message_id(KEY, "intranet.example.org")
    assert re.fullmatch(r"<digest\.daily\.20261124T073000Z\.[0-9a-f]{16}@intranet\.example\.org>", digest)
    assert "zoe" not in digest


def test_message_id_is_stable_for_the_key() -> None:
    same = DeliveryKey("daily", "zoe@example.org", WINDOW_END.astimezone(ZoneInfo("Europe/Amsterdam")))
    assert message_id(KEY, "intranet.example.org") == message_id(same, "intranet.example.org")
    assert build()["Message-ID"] == build(date=WINDOW_END + timedelta(hours=3))["Message-ID"]


def test_message_id_differs_per_window_recipient_and_digest() -> None:
    ids = {
        message_id(key, "intranet.example.org")
        for key in (
            KEY,
            DeliveryKey("daily", "zoe@example.org", WINDOW_END + timedelta(days=1)),
            DeliveryKey("daily", "bram@example.org", WINDOW_END),
            DeliveryKey("weekly", "zoe@example.org", WINDOW_END),
            DeliveryKey("Weekly news", "zoe@example.org", WINDOW_END),
            DeliveryKey("Weekly-news", "zoe@example.org", WINDOW_END),
        )
    }
    assert len(ids) == 6


def test_message_id_of_an_unusual_digest_name_is_still_valid() -> None:
    key = DeliveryKey("Nieuws & <meer>", "zoe@example.org", WINDOW_END)
    assert re.fullmatch(r"<digest\.[0-9a-f]{12}\.20261124T073000Z\.[0-9a-f]{16}@intranet\.example\.org>",
                        message_id(key, "intranet.example.org"))


def test_message_id_needs_an_aware_window_and_a_host() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        message_id(DeliveryKey("daily", "zoe@example.org", datetime(2026, 11, 24, 7, 30)), "example.org")
    with pytest.raises(ValueError, match="host name"):
        message_id(KEY, "example.org>\r\nBcc: x@example.org")


# Header injection ----------------------------------------------------------


def test_a_subject_with_cr_lf_cannot_add_a_header() -> None:
    hostile = Rendered("Nieuws\r\nBcc: everyone@example.org", "", RENDERED.html, RENDERED.text)
    with pytest.raises(ValueError, match="linefeed"):
        build(hostile)


def test_a_name_with_cr_lf_cannot_add_a_header() -> None:
    with pytest.raises(ValueError):
        build(to_name="Zoë\r\nBcc: everyone@example.org")


@given(st.text(max_size=200))
def test_no_subject_adds_a_header(subject: str) -> None:
    try:
        mail = parsed(build(Rendered(subject, "", "<p>x</p>", "x\n")))
    except ValueError:
        return  # refused outright: nothing was built, nothing injected
    assert "Bcc" not in mail
    assert list(mail.keys()).count("Subject") == 1
