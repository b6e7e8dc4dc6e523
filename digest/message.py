"""A rendered digest as an RFC 5322 message, ready for the outbox (`as_bytes()`).

multipart/alternative, text first then HTML (clients show the last part they
can), UTF-8, with the headers that mark it as a bulk list mail that people
can leave in one click: List-Id (RFC 2919), List-Unsubscribe (RFC 2369) and
List-Unsubscribe-Post (RFC 8058), Auto-Submitted (RFC 3834).

Every header goes through `email.message.EmailMessage` with the SMTP policy,
which refuses CR and LF in header values and encodes non-ASCII display names
and subjects, so no item title or recipient name can add a header. The
headers that machines parse (List-Unsubscribe, List-Id, Message-ID) are
written as plain ASCII in their RFC's syntax, never encoded (digest/headers.py).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.charset import Charset
from email.utils import format_datetime, quote
from urllib.parse import urlsplit

from digest.headers import MAIL_POLICY
from digest.render import Rendered
from digest.store import DeliveryKey

# The digest's name goes into Message-IDs as it is when it is this plain;
# any other name is replaced by a digest of it, so that the id stays valid.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
_DOT_ATOM = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
# Inside <...> in List-Unsubscribe these would end the URL or split the list.
_UNSAFE_IN_ANGLES = re.compile(r"[\s<>,\"]")
_UTF8 = Charset("utf-8")


def message_id(key: DeliveryKey, domain: str) -> str:
    """`<digest.NAME.WINDOWEND.RECIPIENT@domain>`: the same for every retry of one delivery.

    The recipient appears only as 16 hex digits of its sha256, so the id,
    which travels in References headers of replies and forwards, names no
    address.
    """
    if key.window_end.tzinfo is None:
        raise ValueError(f"delivery {key.digest!r}: window_end must be timezone-aware")
    name = key.digest if _PLAIN_NAME.fullmatch(key.digest) else hashlib.sha256(key.digest.encode()).hexdigest()[:12]
    window = key.window_end.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    recipient = hashlib.sha256(key.recipient.encode()).hexdigest()[:16]
    return f"<digest.{name}.{window}.{recipient}@{_host(domain)}>"


def build_message(
    rendered: Rendered,
    *,
    sender: str,
    sender_name: str,
    to_email: str,
    to_name: str,
    key: DeliveryKey,
    domain: str,
    list_id: str,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None,
    date: datetime,
) -> EmailMessage:
    """The digest mail. `list_id` is the list's identifier (`daily.intranet.example.org`)."""
    if date.tzinfo is None:
        raise ValueError("the Date of a digest must be timezone-aware")
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(sender_name, addr_spec=sender)
    message["To"] = Address(to_name, addr_spec=to_email)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(key, domain)
    message["List-Id"] = _list_id(f"{sender_name} {key.digest}", list_id)
    message["List-Unsubscribe"] = _list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
    # RFC 8058 one-click needs an HTTPS target; over plain http (the demo on
    # loopback) we offer the link but do not claim one-click.
    if urlsplit(unsubscribe_url).scheme == "https":
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    # Keeps Exchange from answering with out-of-office and other auto-replies.
    message["X-Auto-Response-Suppress"] = "All"
    # No "Precedence: bulk": it was never standardised (RFC 2076 calls it
    # "controversial, discouraged"; RFC 3834 gives Auto-Submitted that job),
    # List-Id and Auto-Submitted already say what it would, and mailbox
    # providers read it as a bulk-mail signal that pushes a wanted digest
    # towards the spam or promotions folder.
    message["MIME-Version"] = "1.0"
    message.make_alternative()
    for content, subtype in ((rendered.text, "plain"), (rendered.html, "html")):
        # MIMEPart rather than add_alternative(), which would repeat
        # MIME-Version inside the HTML part.
        part = MIMEPart(policy=message.policy)
        part.set_content(content, subtype=subtype, charset="utf-8", cte="quoted-printable")
        message.attach(part)
    return message


def _host(domain: str) -> str:
    ascii_domain = domain.encode("idna").decode("ascii")
    if not _DOT_ATOM.fullmatch(ascii_domain):
        raise ValueError(f"not a host name for Message-ID: {domain!r}")
    return ascii_domain


def _list_id(name: str, list_id: str) -> str:
    """`"Plek daily" <daily.intranet.example.org>`; a non-ASCII name as an RFC 2047 encoded word."""
    if not _DOT_ATOM.fullmatch(list_id) or "." not in list_id:
        raise ValueError(f"List-Id must look like label.example.org, got {list_id!r}")
    if name.isascii():
        return f'"{quote(name)}" <{list_id}>'
    # Ten characters are at most 40 bytes of UTF-8: each word stays under RFC 2047's 75 characters.
    words = (_UTF8.header_encode(name[i:i + 10]) for i in range(0, len(name), 10))
    return f"{' '.join(words)} <{list_id}>"


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    """`<https://...>, <mailto:...>`: clients take the leftmost they can use (RFC 2369), so the web link leads."""
    targets = [_target(url, ("https", "http"))]
    if mailto is not None:
        targets.append(_target(mailto, ("mailto",)))
    return ", ".join(f"<{target}>" for target in targets)


def _target(url: str, schemes: tuple[str, ...]) -> str:
    if urlsplit(url).scheme not in schemes or not url.isascii() or _UNSAFE_IN_ANGLES.search(url):
        raise ValueError(f"unusable List-Unsubscribe target: {url!r}")
    return url
