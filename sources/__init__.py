"""Source adapters: collect intranet items and normalise them into `Item`s.

`sources` imports neither pipeline nor the daemon; `digest` and `screens`
use its `Item` type and its config field types.
"""

from sources.item import Item

__all__ = ["Item"]
