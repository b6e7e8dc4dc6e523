"""Alembic's environment for intracast: migrate the connection we are handed.

`intracast.store.migrate` opens the database and passes its connection in
`config.attributes["connection"]`; there is no alembic.ini and no offline
(`--sql`) mode. SQLite cannot ALTER most things in place, so migrations run
in batch mode there (copy, change, swap).
"""

from __future__ import annotations

from alembic import context

from intracast.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("intracast migrations run through `intracast migrate`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
