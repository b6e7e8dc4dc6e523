"""The digest pipeline's part of the config: `digests`, `recipients`, `smtp`."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, WithJsonSchema

from sources.fields import Duration, TimeZone

Locale = Literal["nl", "en"]
Frequency = Literal["daily", "weekly", "off"]


def _check_cron(value: str) -> str:
    from digest.windows import parse_schedule  # here: windows reads this module's types

    try:
        parse_schedule(value)
    except ValueError as e:
        raise ValueError(f"invalid cron expression {value!r}: {e}") from None
    return value


Cron = Annotated[
    str,
    AfterValidator(_check_cron),
    WithJsonSchema({"type": "string", "description": "minute hour day month weekday", "examples": ["30 8 * * 1-5"]}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_template(value: str | None) -> str | None:
    from digest.render import check_admin_template  # here: render reads this module's models

    if value is not None:
        check_admin_template(value)
    return value


AdminTemplate = Annotated[str | None, AfterValidator(_check_template)]


class DigestConfig(_Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="Unique among digests; used in logs, the List-Id header and the CLI (letters, digits, - and _)",
    )
    schedule: Cron = Field(
        "30 8 * * 1-5",
        description="Cron (standard crontab; 0 and 7 are Sunday), in each recipient's own time zone "
        "(default weekdays 08:30)",
    )
    sources: list[str] = Field(default_factory=list, description="Names of sources to include (empty: all)")
    tags: list[str] = Field(default_factory=list, description="Only items with one of these tags (empty: any)")
    audience: list[str] = Field(default_factory=list, description="Only recipients in one of these groups (empty: all)")
    max_items: int = Field(15, ge=1, le=200, description="Items listed; the rest as 'and N more on the intranet'")
    group_by: Literal["source", "tag", "none"] = Field("source", description="Group the items by source or by tag")
    subject: AdminTemplate = Field(
        None, description="Subject template (Jinja2: count, intranet, digest, recipient); default names the count"
    )
    intro: AdminTemplate = Field(None, description="Intro paragraph template (Jinja2), above the items")
    skip_empty: bool = Field(True, description="Send nothing when a recipient has no new items")
    templates: Path | None = Field(None, description="Folder whose templates override the shipped ones")
    lookback: Duration = Field(timedelta(days=7), description="A recipient's first digest covers this far back")
    grace: Duration = Field(timedelta(hours=12), description="A window missed while down still runs this late")
    track_clicks: bool = Field(False, description="Links go through /r/ to record clicks (marks items read)")
    unsubscribe_mailto: EmailStr | None = Field(
        None, description="A mailbox you process: offered in List-Unsubscribe beside the one-click https link"
    )

    def reaches(self, groups: Iterable[str]) -> bool:
        """Whether someone in `groups` is in this digest's audience (an empty audience is everyone)."""
        return not self.audience or not set(self.audience).isdisjoint(groups)


class RecipientConfig(_Strict):
    email: EmailStr = Field(description="Address the digest goes to")
    id: str | None = Field(None, description="The employee's id on the intranet, for per-recipient sources")
    name: str = Field("", description="Name used in the greeting")
    locale: Locale | None = Field(None, description="nl or en (default: the intranet's)")
    timezone: TimeZone | None = Field(None, description="IANA time zone (default: the intranet's)")
    groups: list[str] = Field(default_factory=list, description="Groups, for audience filtering")
    frequency: Frequency = Field("daily", description="daily, weekly or off; employees can change it")


class RecipientsConfig(_Strict):
    file: Path | None = Field(None, description="CSV with a header row: email,name,locale,timezone,groups,frequency,id (groups separated by |)")
    list: builtins.list[RecipientConfig] = Field(default_factory=list, description="Recipients written in the config")


class SmtpConfig(_Strict):
    host: str = Field(min_length=1, description="SMTP server")
    port: int = Field(587, ge=1, le=65535, description="587 with STARTTLS, 465 with implicit TLS")
    security: Literal["starttls", "require_starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls: when the server offers it; require_starttls: refuse without; tls: implicit (465)",
    )
    username: str | None = Field(None, description="Login; use ${SMTP_USER}")
    password: str | None = Field(None, description="Password; use ${SMTP_PASSWORD}, never a literal")
    sender: EmailStr | None = Field(None, description="From address (default: digest@ the intranet's host)")
    timeout: float = Field(30.0, gt=0, description="Seconds per SMTP command")
    max_connections: int = Field(4, ge=1, le=64, description="Long-lived connections, each carrying many messages")
    rate: float = Field(20.0, gt=0, description="Messages per second at most; halved while the server throttles")
    retry_for: Duration = Field(timedelta(hours=24), description="Temporary failures retry this long, then fail")
    lease: Duration = Field(
        timedelta(minutes=5),
        description="A message being sent is reserved this long; after a crash it is sent again once it passes",
    )
