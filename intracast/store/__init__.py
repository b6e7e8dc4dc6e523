"""The daemon's storage: items, fetch state, recipients, the outbox, clicks, screens.

Open it with `open_store(url, base_dir)`; it migrates the schema (Alembic,
scripts in `migrations/`) and refuses a database newer than the code.
"""

from intracast.store.clicks import Click
from intracast.store.errors import SchemaTooNewError, StoreError
from intracast.store.fetch_state import FetchState
from intracast.store.items import UpsertResult
from intracast.store.recipients import Preference, RecipientRow, ReplaceResult
from intracast.store.sql import SqlStore, open_store

__all__ = [
    "Click",
    "FetchState",
    "Preference",
    "RecipientRow",
    "ReplaceResult",
    "SchemaTooNewError",
    "SqlStore",
    "StoreError",
    "UpsertResult",
    "open_store",
]
