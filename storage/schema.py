"""Bring a database's schema to the revision this code expects, in place, with Alembic.

The migration scripts ship inside the package (``storage/migrations``); nothing on disk
outside the package is needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection

from storage.errors import SchemaError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(script_location: Path | None = None) -> Config:
    config = Config()
    # ConfigParser interpolates "%": escape it so any directory name works.
    location = str(script_location or MIGRATIONS_DIR).replace("%", "%%")
    config.set_main_option("script_location", location)
    return config


def head_revision(script_location: Path | None = None) -> str:
    head = ScriptDirectory.from_config(alembic_config(script_location)).get_current_head()
    if head is None:
        raise SchemaError(f"no migrations found in {script_location or MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision stamped in the database, or None for a database with no schema yet."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(
    connection: Connection, revision: str = "head", *, script_location: Path | None = None
) -> None:
    """Upgrade the schema on ``connection`` (inside the caller's transaction) to ``revision``.

    Raises SchemaError when the database carries a revision these scripts do not know —
    typically a database written by a newer deploybot.
    """
    config = alembic_config(script_location)
    known = ScriptDirectory.from_config(config)
    stamped = current_revision(connection)
    if stamped is not None and _lookup(known, stamped) is None:
        raise SchemaError(
            f"the database is at schema revision {stamped!r}, which this version of deploybot "
            "does not know (was it written by a newer deploybot?); upgrade deploybot or use "
            "another database"
        )
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        raise SchemaError(f"cannot upgrade the database schema to {revision!r}: {exc}") from exc


def _lookup(scripts: ScriptDirectory, revision: str) -> object | None:
    try:
        return scripts.get_revision(revision)
    except CommandError:
        return None
