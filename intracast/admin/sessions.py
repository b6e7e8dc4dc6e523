"""Admin sessions in a signed cookie, and the CSRF tokens derived from them.

The cookie holds who is logged in (or nobody yet: the login form needs a
CSRF secret too, against login CSRF), when the session began, and a random
CSRF secret. It is sealed with a key derived from `server.secret`, the
username and the password hash, so that changing the password or the name
ends every session. The server keeps no session state: a session ends when
its `session_lifetime` has passed since login (checked here, not only by
the cookie's Max-Age), or when the browser drops the cookie at logout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from intracast.admin.config import AdminConfig
from intracast.admin.seal import Seal

COOKIE = "intracast_admin"
PATH = "/admin"
# A session issued "in the future" comes from a clock that jumped back; a little is tolerated.
CLOCK_SKEW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Session:
    user: str | None  # None: nobody has logged in yet
    issued: datetime
    csrf_secret: str

    @property
    def csrf_token(self) -> str:
        """The hidden field every form carries; a page on another site cannot read or compute it."""
        mac = hmac.new(self.csrf_secret.encode(), b"intracast/admin/csrf", hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def csrf_ok(self, token: object) -> bool:
        return isinstance(token, str) and token.isascii() and hmac.compare_digest(token, self.csrf_token)


class Sessions:
    def __init__(self, secret: str, settings: AdminConfig):
        context = f"{settings.username}\0{settings.password_hash}".encode()
        self._seal = Seal(secret, "session", context)
        self._settings = settings

    def new(self, user: str | None, now: datetime) -> Session:
        return Session(user, now, secrets.token_urlsafe(24))

    def read(self, request: web.Request, now: datetime) -> Session | None:
        """The request's session, if its cookie is ours, untampered and current."""
        data = self._seal.open(request.cookies.get(COOKIE))
        if data is None:
            return None
        user, issued, csrf = data.get("u"), data.get("t"), data.get("c")
        if not isinstance(issued, int) or not isinstance(csrf, str) or not isinstance(user, str | None):
            return None
        session = Session(user, datetime.fromtimestamp(issued, UTC), csrf)
        if not now - self._settings.session_lifetime < session.issued <= now + CLOCK_SKEW:
            return None
        return session

    def write(self, response: web.StreamResponse, request: web.Request, session: Session) -> None:
        value = self._seal.seal({"u": session.user, "t": int(session.issued.timestamp()), "c": session.csrf_secret})
        response.set_cookie(COOKIE, value, path=PATH, httponly=True, samesite="Strict", secure=request.secure,
                            max_age=int(self._settings.session_lifetime.total_seconds()))


def end_session(response: web.StreamResponse) -> None:
    """Logging out: the browser drops the cookie."""
    response.del_cookie(COOKIE, path=PATH)
