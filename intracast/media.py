"""The screens' media cache composed: signed keys, the sources' credentials, the screens' size."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from intracast.config import LoadedConfig
from screens.media import Media, MediaKeys, credentials_for
from sources.http import Limits
from sources.registry import Services, SourceOptions


class ScreenMedia(Media):
    """`Media` on the config in force: `current()` is that config, whose sources lend their credentials;
    `side()` the longest side of the largest screen showing images, px. A reload calls `reconfigure`.

    Without `server.secret` (no digests configured) the keys are signed with
    a secret of this run, the same after a reload: players fetch their
    playlist again after a restart, and with it the new keys.
    """

    def __init__(self, current: Callable[[], LoadedConfig], services: Services, side: Callable[[], int]) -> None:
        self._run_secret = secrets.token_urlsafe(32)

        async def fetch(source: str | None, url: str, max_bytes: int) -> bytes:
            sources = {options.name: options for options in current().config.sources}
            headers, auth = _credentials(sources.get(source or ""), url)
            response = await services.http.get(source or "media", url, headers=headers, auth=auth,
                                               limits=Limits(max_bytes=max_bytes, max_decompressed=max_bytes))
            return response.body

        loaded = current()
        super().__init__(self._keys(loaded), loaded.config.media, loaded.resolve(loaded.config.media.cache), fetch,
                         side, services.executor)

    def reconfigure(self, loaded: LoadedConfig) -> None:
        """A rotated `server.secret` makes new keys (the old URLs stop working); the limits and folder follow."""
        self.configure(self._keys(loaded), loaded.config.media, loaded.resolve(loaded.config.media.cache))

    def _keys(self, loaded: LoadedConfig) -> MediaKeys:
        return MediaKeys(loaded.config.server.secret or self._run_secret)


def _credentials(options: SourceOptions | None, url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The source's headers and basic auth, for an image on the source's own origin only.

    A per-recipient source's headers name a recipient: none of them go to a screen's image.
    """
    if options is None or getattr(options, "per_recipient", False):
        return {}, None
    username = getattr(options, "username", None)
    auth = (username, getattr(options, "password", None) or "") if username else None
    return credentials_for(url, getattr(options, "url", None), getattr(options, "headers", {}), auth)
