"""Errors raised by sources; each says which source and where."""


class SourceError(Exception):
    """A source could not be fetched or parsed.

    `transient` tells the scheduler whether a retry may succeed.
    """

    def __init__(self, source: str, where: str, message: str, *, transient: bool = False):
        super().__init__(f"source {source!r}: {where}: {message}")
        self.source = source
        self.where = where
        self.transient = transient
