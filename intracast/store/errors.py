"""Errors raised by the store; each names the database it is about."""


class StoreError(Exception):
    """The database could not be opened, migrated, read or written."""


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer intracast than this one.

    Upgrading it would be guesswork and downgrading loses data, so the daemon
    refuses to start rather than write rows a newer schema does not expect.
    """

    def __init__(self, database: str, revision: str, head: str):
        super().__init__(
            f"database {database} is at schema revision {revision!r}, newer than this "
            f"intracast knows (head {head!r}); upgrade intracast or use another database"
        )
        self.database = database
        self.revision = revision
        self.head = head
