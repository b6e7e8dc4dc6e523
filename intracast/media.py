"""The screens' media cache composed: signed keys, the sources' credentials, the screens' size."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from intracast.config import LoadedConfig
from screens.media import Media, MediaKeys, credentials_for
from sources.http import Limits
from sources.registry import Services, SourceOptions


def make_media(current: Callable[[], LoadedConfig], services: Services, side: Callable[[], int]) -> Media:
    """`current()`: the config in force, whose sources lend their credentials; `side`: the longest
    side of the largest screen showing images, px. The cache's place and size are the start's.

    Without `server.secret` (no digests configured) the keys are signed with
    a secret of this run: players fetch their playlist again after a
    restart, and with it the new keys.
    """
    loaded = current()
    config = loaded.config

    async def fetch(source: str | None, url: str, max_bytes: int) -> bytes:
        sources = {options.name: options for options in current().config.sources}
        headers, auth = _credentials(sources.get(source or ""), url)
        response = await services.http.get(source or "media", url, headers=headers, auth=auth,
                                           limits=Limits(max_bytes=max_bytes, max_decompressed=max_bytes))
        return response.body

    keys = MediaKeys(config.server.secret or secrets.token_urlsafe(32))
    return Media(keys, config.media, loaded.resolve(config.media.cache), fetch, side, services.executor)


def _credentials(options: SourceOptions | None, url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The source's headers and basic auth, for an image on the source's own origin only.

    A per-recipient source's headers name a recipient: none of them go to a screen's image.
    """
    if options is None or getattr(options, "per_recipient", False):
        return {}, None
    username = getattr(options, "username", None)
    auth = (username, getattr(options, "password", None) or "") if username else None
    return credentials_for(url, getattr(options, "url", None), getattr(options, "headers", {}), auth)
