"""The links a digest carries: to items (direct or tracked), preferences, unsubscribe.

Each carries a token signed for its action and recipient (digest/tokens.py),
so that the endpoints can trust it without a session.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from digest.recipients import Recipient
from digest.store import Candidate
from digest.tokens import Claims, Signer


@dataclass(frozen=True)
class Links:
    public_url: str  # where employees reach the daemon, without a trailing slash
    signer: Signer

    @property
    def tag(self) -> str:
        """Changes when these links would (another address, another secret): for the URL of something that
        shows one, such as a screen's QR code, so that a cache keyed on that URL never keeps an old link."""
        return hashlib.sha256(f"{self.public_url}\0{self.signer.key_id}".encode()).hexdigest()[:12]

    def item(self, recipient: Recipient, candidate: Candidate, tracked: bool) -> str:
        if not tracked:
            return candidate.item.link
        claims = Claims("click", recipient.key, candidate.id, candidate.item.link)
        return f"{self.public_url}/r/{self.signer.sign(claims)}"

    def scan(self, screen_id: str, item_id: int, link: str) -> str:
        """A screen's QR code for an item: /r/ counts the scan for the item and the screen."""
        return f"{self.public_url}/r/{self.signer.sign(Claims('scan', screen_id, item_id, link))}"

    def preferences(self, recipient: Recipient) -> str:
        return f"{self.public_url}/preferences/{self.signer.sign(Claims('preferences', recipient.key))}"

    def unsubscribe(self, recipient: Recipient) -> str:
        return f"{self.public_url}/u/{self.signer.sign(Claims('unsubscribe', recipient.key))}"
