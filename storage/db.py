"""The database handle: engine, sessions, SQLite durability settings, schema upgrade on open.

SQLite (the default) runs in WAL mode with ``synchronous=FULL`` so a committed row survives a
power cut, with foreign keys on and a busy timeout so several processes can share the file.
Write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
transaction that reads then writes (the audit chain's head, a lock, an idempotency key) can
never be overtaken between its read and its write. PostgreSQL URLs are accepted too; there the
repositories lock rows with ``SELECT … FOR UPDATE`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import revision
from storage.errors import DatabaseOpenError, SchemaError
from storage.timeutil import Clock, as_utc, utc_now

_SQLITE_BEGIN_OPTION = "deploybot_sqlite_begin"
_SUPPORTED = "sqlite+aiosqlite:///path/to/deploybot.db or postgresql+asyncpg://user@host/db"
# Any constant works: it only has to be the same in every deploybot process.
_PG_MIGRATION_LOCK_KEY = 0x6465706C6F79


def default_database_url(cwd: Path) -> str:
    """The default database: ``deploybot.db`` in the working directory."""
    return f"sqlite+aiosqlite:///{(cwd / 'deploybot.db').resolve()}"


T = TypeVar("T")


class Opening(Generic[T]):
    """Result of ``X.open(...)``: await it, or use it as ``async with`` (closes on exit)."""

    def __init__(self, opener: Callable[[], Awaitable[T]], closer: Callable[[T], Awaitable[None]]):
        self._opener = opener
        self._closer = closer
        self._opened: T | None = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._opener().__await__()

    async def __aenter__(self) -> T:
        self._opened = await self._opener()
        return self._opened

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            opened, self._opened = self._opened, None
            await self._closer(opened)


class Database:
    """An open database. Build it with ``await Database.open(url)``; ``await db.close()`` after."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock, in_memory: bool) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )
        write_engine = (
            engine.execution_options(**{_SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            if self.dialect == "sqlite"
            else engine
        )
        self._write_sessionmaker = async_sessionmaker(write_engine, expire_on_commit=False)
        self._clock = clock
        # SQLite has one writer at a time anyway; queueing same-process writers here keeps
        # them off SQLite's busy-wait. An in-memory database has a single shared connection,
        # so there readers queue too.
        self._sqlite_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self._in_memory = in_memory
        #: Serializes audit appends made through this Database (see AuditLog.append).
        self.audit_lock = asyncio.Lock()
        self._closed = False

    @classmethod
    def open(
        cls, url: str, *, clock: Clock | None = None, busy_timeout: float = 30.0
    ) -> Opening[Database]:
        """Open ``url`` and upgrade its schema in place to the newest revision.

        ``busy_timeout`` (seconds) is how long a SQLite writer waits for another process's
        write lock before failing. Raises DatabaseOpenError or SchemaError.
        """

        async def opener() -> Database:
            return await cls._open(url, clock=clock or utc_now, busy_timeout=busy_timeout)

        return Opening(opener, Database.close)

    @classmethod
    async def _open(cls, url: str, *, clock: Clock, busy_timeout: float) -> Database:
        parsed = normalize_url(url)
        in_memory = parsed.get_backend_name() == "sqlite" and _is_memory(parsed)
        try:
            engine = create_async_engine(parsed)
        except ImportError as error:
            raise DatabaseOpenError(
                f"cannot use database URL {_safe(parsed)}: its driver is not installed "
                f"({error}); install it, e.g. `pip install {error.name or 'asyncpg'}`"
            ) from error
        except exc.ArgumentError as error:
            raise DatabaseOpenError(f"cannot use database URL {_safe(parsed)}: {error}") from error
        if engine.dialect.name == "sqlite":
            _install_sqlite_hooks(engine, busy_timeout_ms=max(0, round(busy_timeout * 1000)))
        db = cls(engine, clock=clock, in_memory=in_memory)
        try:
            await db._upgrade_schema()
        except SchemaError:
            await db.close()
            raise
        except (exc.SQLAlchemyError, OSError) as error:
            await db.close()
            detail = getattr(error, "orig", None) or error  # the driver's words, not SQLAlchemy's
            raise DatabaseOpenError(f"cannot open database {_safe(parsed)}: {detail}") from error
        except BaseException:
            await db.close()
            raise
        return db

    async def _upgrade_schema(self) -> None:
        async with self._write_lock(), self._write_sessionmaker() as session, session.begin():
            connection = await session.connection()
            if self.dialect == "postgresql":
                # Two replicas starting at once must not both run the same migration.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_run_upgrade)

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query (for /healthz)."""
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Dispose of the engine's connections. Safe to call twice."""
        if not self._closed:
            self._closed = True
            await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def now(self) -> datetime:
        """The injected clock's current time, as aware UTC."""
        return as_utc(self._clock(), "clock()")

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session inside one read transaction (a consistent snapshot on SQLite WAL)."""
        lock = self._write_lock() if self._in_memory else contextlib.nullcontext()
        async with lock, self.sessionmaker() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session inside one write transaction, committed on exit, rolled back on error.

        On SQLite the transaction holds the database's write lock from its first statement
        (``BEGIN IMMEDIATE``), so reads made inside it cannot go stale before the writes.
        """
        async with self._write_lock(), self._write_sessionmaker() as session, session.begin():
            yield session

    def _write_lock(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._sqlite_lock if self._sqlite_lock is not None else contextlib.nullcontext()


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pick the async driver: plain ``sqlite:`` / ``postgresql:`` URLs work."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        raise DatabaseOpenError(f"not a database URL: {url!r} (expected {_SUPPORTED})") from error
    backend = parsed.get_backend_name()
    driver = parsed.drivername.partition("+")[2] or None
    if backend == "sqlite":
        if driver not in (None, "pysqlite", "aiosqlite"):
            raise DatabaseOpenError(f"SQLite driver {driver!r} is not supported; use aiosqlite")
        parsed = parsed.set(drivername="sqlite+aiosqlite")
        if not _is_memory(parsed):
            folder = Path(str(parsed.database)).expanduser().resolve().parent
            if not folder.is_dir():
                raise DatabaseOpenError(
                    f"cannot create database {parsed.database}: no folder {folder}"
                )
        return parsed
    if backend == "postgresql":
        if driver in (None, "psycopg2", "asyncpg"):
            return parsed.set(drivername="postgresql+asyncpg")
        if driver == "psycopg":
            return parsed
        raise DatabaseOpenError(f"PostgreSQL driver {driver!r} is not supported; use asyncpg")
    raise DatabaseOpenError(
        f"unsupported database {backend!r} in {_safe(parsed)}; use {_SUPPORTED}"
    )


def database_file(url: str) -> Path | None:
    """The file a SQLite ``url`` keeps its data in; None for in-memory and server databases.

    For readers that must not create an empty database by opening a wrong path."""
    try:
        parsed = make_url(url)
    except (exc.ArgumentError, ValueError) as error:
        raise DatabaseOpenError(f"not a database URL: {url!r} (expected {_SUPPORTED})") from error
    if parsed.get_backend_name() != "sqlite" or _is_memory(parsed):
        return None
    return Path(str(parsed.database)).expanduser().resolve()


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _run_upgrade(connection: Connection) -> None:
    if revision.at_head(connection):
        return
    from storage import schema  # Alembic: imported only to migrate, or to refuse a newer stamp

    schema.upgrade(connection)


def _set_wal(cursor: Any, busy_timeout_ms: int) -> None:
    # SQLite may answer "database is locked" to a journal-mode change without calling the busy
    # handler (two processes creating the same new file at once), so retry within the timeout.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _install_sqlite_hooks(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below); the driver's own implicit BEGIN would defeat
        # BEGIN IMMEDIATE and start transactions late.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            _set_wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
