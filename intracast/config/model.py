"""The whole config: intracast's own parts, composed with each package's models.

`sources` is a discriminated union over every registered adapter's options,
so the model is built once the adapters are loaded (`config_model()`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Union
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, create_model

from digest.config import DigestConfig, Locale, RecipientsConfig, SmtpConfig
from intracast.admin.config import AdminConfig
from screens.config import PlaylistConfig, ScreenConfig
from screens.media import MediaConfig
from sources import registry
from sources.fields import TimeZone
from sources.registry import SourceOptions


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntranetConfig(_Strict):
    name: str = Field(min_length=1, description="The intranet's name, as employees know it")
    url: AnyHttpUrl = Field(description="Home page; redirects go only to this host")
    locale: Locale = Field("nl", description="Default language of mails and screens: nl or en")
    timezone: TimeZone = Field(ZoneInfo("Europe/Amsterdam"), description="Default time zone (IANA)")
    logo: AnyHttpUrl | None = Field(None, description="Logo shown in mails and on screens (an https URL)")
    hosts: list[str] = Field(
        default_factory=list,
        description="Other hosts of the intranet (wiki, forum); tracked links redirect only to these, "
        "the intranet's own host and the sources' hosts",
    )
    colour: str = Field("#1f5fa8", pattern=r"^#[0-9a-fA-F]{6}$", description="Brand colour, as #rrggbb")


def _check_listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return value


Listen = Annotated[str, AfterValidator(_check_listen)]


class ServerConfig(_Strict):
    listen: Listen = Field("127.0.0.1:8080", description="HOST:PORT; loopback unless told otherwise")
    public_url: AnyHttpUrl | None = Field(None, description="URL employees and screens reach us at (default: http://listen)")
    secret: str | None = Field(
        None,
        min_length=16,
        description="Signs unsubscribe, preference and click links; use ${INTRACAST_SECRET}. "
        "Required when digests are configured",
    )

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class StorageConfig(_Strict):
    url: str = Field(
        "sqlite:///var/intracast.db",
        pattern=r"^(sqlite|postgresql)://",
        description="sqlite:///PATH (relative to this file) or postgresql://user@host/db",
    )
    maildir: Path = Field(Path("var/outbox"), description="Maildir that receives the digests when no smtp is set")


class Config(_Strict):
    """Typed view of the config; `config_model()` is the validating subclass."""

    intranet: IntranetConfig = Field(description="The intranet intracast delivers for")
    server: ServerConfig = Field(default_factory=ServerConfig, description="The web server")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="Database and local outbox")
    smtp: SmtpConfig | None = Field(None, description="Mail server; absent: digests go to the Maildir outbox")
    sources: list[SourceOptions] = Field(default_factory=list, description="Where items come from")
    recipients: RecipientsConfig = Field(default_factory=RecipientsConfig, description="Who gets digests")
    digests: list[DigestConfig] = Field(default_factory=list, description="Scheduled digest mailings")
    screens: list[ScreenConfig] = Field(default_factory=list, description="TV screens")
    playlists: list[PlaylistConfig] = Field(default_factory=list, description="What screens show")
    media: MediaConfig = Field(default_factory=MediaConfig, description="Images shown on screens: fetching and cache")
    admin: AdminConfig | None = Field(None, description="The admin pages under /admin; absent: they are off")


@functools.cache
def config_model() -> type[Config]:
    models = registry.options_models()
    source = models[0] if len(models) == 1 else Annotated[Union[models], Field(discriminator="type")]
    return create_model(
        "Config",
        __base__=Config,
        sources=(list[source], Field(default_factory=list, description="Where items come from")),
    )
