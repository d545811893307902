"""Opening databases: durability settings, schema creation, in-place upgrades, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage import (
    Database,
    DatabaseOpenError,
    InvalidValueError,
    SchemaError,
    Store,
    default_database_url,
    normalize_url,
    schema,
)
from storage.models import Base
from tests.storage.audit_v1 import write_v1_log

# These tests migrate, and watch databases being migrated: theirs start empty.
pytestmark = pytest.mark.empty_database


@contextlib.contextmanager
def _raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection that commits and closes on exit."""
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        yield raw


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _tables(path: Path) -> set[str]:
    with _raw(path) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _indexes(path: Path) -> set[str]:
    with _raw(path) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows}


def _revision(path: Path) -> str:
    with _raw(path) as raw:
        return str(raw.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_default_database_url_points_at_deploybot_db_in_cwd(tmp_path: Path) -> None:
    assert (
        default_database_url(tmp_path) == f"sqlite+aiosqlite:///{tmp_path.resolve()}/deploybot.db"
    )


async def test_open_creates_schema_at_head(db_url: str, db_path: Path) -> None:
    db = await Database.open(db_url)
    await db.close()
    assert {"audit_events", "audit_head", "deployments", "approvals", "locks"} <= _tables(db_path)
    assert _revision(db_path) == schema.head_revision() == "0013"


@pytest.mark.sqlite_only
async def test_sqlite_connections_are_durable_wal_with_foreign_keys(db_url: str) -> None:
    async with Database.open(db_url, busy_timeout=12.5) as db, db.read() as session:
        pragmas = {
            name: (await session.execute(text(f"PRAGMA {name}"))).scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 12500,
    }


async def test_write_transactions_take_the_write_lock_up_front(db_url: str, db_path: Path) -> None:
    async with Database.open(db_url) as db, db.write() as session:
        await session.execute(text("SELECT 1"))  # a read only, yet the write lock is held
        other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


async def test_opening_twice_is_a_no_op_upgrade(db_url: str, db_path: Path) -> None:
    async with Store.open(db_url) as store:
        await store.audit.append("alice", "first")
    async with Store.open(db_url) as store:
        await store.audit.append("alice", "second")
        assert (await store.audit.verify()).checked == 2
    assert _revision(db_path) == "0013"


async def test_two_databases_opening_a_new_file_at_once_both_succeed(db_url: str) -> None:
    first, second = await asyncio.gather(Database.open(db_url), Database.open(db_url))
    try:
        async with first.read() as session:
            heads = (await session.execute(text("SELECT count(*) FROM audit_head"))).scalar()
        assert heads == 1
    finally:
        await first.close()
        await second.close()


async def _create_at(url: str, revision: str) -> None:
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.upgrade, revision)
    finally:
        await engine.dispose()


async def test_database_at_older_revision_is_upgraded_in_place(db_url: str, db_path: Path) -> None:
    await _create_at(db_url, "0001")
    assert _revision(db_path) == "0001"
    assert "ix_audit_events_environment_seq" not in _indexes(db_path)
    with _raw(db_path) as raw:
        raw.execute(
            "INSERT INTO locks VALUES ('prod', 'alice', NULL, 'hands off', 'manual', "
            "'2026-11-21 09:00:00.000000')"
        )

    async with Store.open(db_url) as store:
        lock = await store.locks.get("prod")
        event = await store.audit.append("alice", "after.upgrade", environment="prod")

    assert _revision(db_path) == "0013"
    assert {
        "ix_audit_events_environment_seq",
        "ix_audit_events_deployment_id_seq",
        "ix_audit_events_at",
        "ix_deployments_environment_created_at",
        "ix_deployments_state",
        "ix_audit_events_action_seq",
        "ix_audit_events_environment_action_seq",
    } <= _indexes(db_path)
    assert lock is not None
    assert (lock.holder, lock.reason) == ("alice", "hands off")
    assert event.seq == 1


async def _downgrade(store: Store, revision: str) -> None:
    async with store.db.write() as session:
        conn = await session.connection()

        def downgrade(sync_conn: Connection) -> None:
            config = schema.alembic_config()
            config.attributes["connection"] = sync_conn
            command.downgrade(config, revision)

        await conn.run_sync(downgrade)


async def test_existing_audit_chain_survives_downgrade_and_upgrade(
    db_url: str, db_path: Path
) -> None:
    await write_v1_log(db_path, 5)  # written before chain encodings were versioned
    async with Store.open(db_url) as store:
        await _downgrade(store, "0001")
    async with Store.open(db_url) as store:
        result = await store.audit.verify()
    assert (result.ok, result.checked) == (True, 5)


async def test_downgrade_below_0013_is_refused_once_rows_use_encoding_2(
    db_url: str, db_path: Path
) -> None:
    async with Store.open(db_url) as store:
        for n in range(3):
            await store.audit.append("alice", f"action.{n}")
        refused = r"3 audit row\(s\) are hashed with chain encoding 2"
        with pytest.raises(RuntimeError, match=refused):
            await _downgrade(store, "0001")
    async with Store.open(db_url) as store:
        result = await store.audit.verify()
    assert (result.ok, result.checked) == (True, 3)
    assert _revision(db_path) == "0013"


async def test_models_match_the_migrations(db_url: str) -> None:
    async with Database.open(db_url) as db, db.read() as session:
        conn = await session.connection()
        differences = await conn.run_sync(
            lambda sync_conn: compare_metadata(
                MigrationContext.configure(sync_conn, opts={"compare_type": True}), Base.metadata
            )
        )
    assert differences == []


async def test_database_from_a_newer_deploybot_is_refused(db_url: str, db_path: Path) -> None:
    db = await Database.open(db_url)
    await db.close()
    with _raw(db_path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    with pytest.raises(SchemaError, match=r"9999_future.*newer deploybot"):
        await Database.open(db_url)


async def test_a_file_that_is_not_a_database_is_refused(db_path: Path, db_url: str) -> None:
    _write(db_path, b"this is not sqlite, just some text that happens to be here" * 100)
    with pytest.raises(DatabaseOpenError, match="not a database"):
        await Database.open(db_url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("definitely not a url", "not a database URL"),
        ("mysql+aiomysql://u@localhost/db", "unsupported database 'mysql'"),
        ("sqlite+pysqlcipher:///x.db", "SQLite driver 'pysqlcipher' is not supported"),
        ("sqlite+aiosqlite:////no/such/folder/anywhere/deploybot.db", "no folder"),
    ],
)
async def test_unusable_urls_get_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseOpenError, match=message):
        await Database.open(url)


def test_plain_urls_get_the_async_driver(tmp_path: Path) -> None:
    assert normalize_url(f"sqlite:///{tmp_path}/x.db").drivername == "sqlite+aiosqlite"
    assert (
        normalize_url("postgresql://u:p@db.internal/deploybot").drivername == "postgresql+asyncpg"
    )
    assert normalize_url("postgresql+asyncpg://u@db/deploybot").drivername == "postgresql+asyncpg"


async def test_postgres_url_without_a_reachable_server_fails_cleanly() -> None:
    # Port 9 on loopback: nothing listens there. Either the driver is missing or the
    # connection is refused; both must surface as DatabaseOpenError.
    with pytest.raises(DatabaseOpenError, match="cannot") as caught:
        await Database.open("postgresql+asyncpg://u:secret@127.0.0.1:9/deploybot")
    assert "secret" not in str(caught.value)


async def test_in_memory_database_works() -> None:
    async with Store.open("sqlite+aiosqlite://") as store:
        await asyncio.gather(*(store.audit.append("a", f"x{n}") for n in range(10)))
        assert (await store.audit.verify()).checked == 10


async def test_a_clock_returning_naive_times_is_refused(db_url: str) -> None:
    from datetime import datetime

    async with Store.open(db_url, clock=lambda: datetime(2026, 1, 1)) as store:
        with pytest.raises(InvalidValueError, match="timezone-aware"):
            await store.audit.append("alice", "x")


async def test_close_is_idempotent_and_context_manager_closes(db_url: str) -> None:
    db: Any
    async with Database.open(db_url) as db:
        pass
    await db.close()
    opened = await Database.open(db_url)
    async with opened:
        pass
    await opened.close()
