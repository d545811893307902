"""The schema revision this code expects, and the one a database carries, read without Alembic.

Every start opens the database, and almost every start finds it already at the packaged head.
Alembic (and Mako under it) costs a start more time and memory than the rest of the storage
layer, so ``storage.db`` reads the stamp with one plain query and imports ``storage.schema``
only when there is something to migrate or to refuse. ``HEAD`` must name the newest migration
in ``storage/migrations/versions`` (tests/storage/test_revision.py checks it against Alembic).
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

HEAD = "0013"
# Alembic's default version table, which storage/migrations/env.py keeps.
VERSION_TABLE = "alembic_version"


def stamped(connection: Connection) -> list[str]:
    """The revisions stamped in the database: none for a database with no schema yet, one
    normally, several only for a database migrated on branches this code does not have."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return []
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return [str(version) for (version,) in rows]


def at_head(connection: Connection) -> bool:
    """True when the database is exactly at ``HEAD``: nothing to migrate, nothing to refuse."""
    return stamped(connection) == [HEAD]
