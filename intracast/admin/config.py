"""The `admin:` section: who may log in to /admin, and for how long.

No section: the admin pages are off (they answer 404 saying how to turn
them on). The pages sign their cookies with `server.secret`, which the
config check requires alongside this section.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from intracast.admin.passwords import ScryptHash
from sources.fields import Duration


def _check_hash(value: str) -> str:
    ScryptHash.parse(value)
    return value


class AdminConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str = Field("admin", min_length=1, max_length=64, description="The admin's login name")
    password_hash: Annotated[str, AfterValidator(_check_hash)] = Field(
        description="scrypt hash of the admin's password, from `intracast admin hash-password`; "
        "use ${INTRACAST_ADMIN_PASSWORD_HASH}",
    )
    session_lifetime: Duration = Field(
        timedelta(hours=12), description="How long a login lasts, e.g. 12h; then the admin logs in again"
    )
    email: EmailStr | None = Field(
        None, description="The admin's own address: 'send to me' on the Digests page sends a digest there "
        "(absent: that button is off)",
    )
