"""Shared fixtures for the storage tests: a settable clock and stores on real databases.

Every test that opens ``db_url`` (or ``store``) runs twice: on a SQLite file and on a fresh
database in the session's real PostgreSQL cluster (``tests/conftest.py``). A test that also
asks for ``db_path`` reads or edits the SQLite file itself, so it runs on SQLite only, as does
one marked ``sqlite_only`` (it checks SQLite's own settings).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import Store, default_database_url
from tests.conftest import database_backends

START = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to (``tick`` advances it after every read)."""

    def __init__(self, start: datetime = START, tick: timedelta = timedelta(0)) -> None:
        self.now = start
        self.tick = tick

    def __call__(self) -> datetime:
        current = self.now
        self.now = self.now + self.tick
        return current

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(tick=timedelta(milliseconds=1))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "deploybot.db"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        sqlite_only = "db_path" in metafunc.fixturenames or any(
            metafunc.definition.iter_markers("sqlite_only")
        )
        params = ["sqlite"] if sqlite_only else database_backends()
        metafunc.parametrize("backend", params, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgresql":
        new_database: Callable[[], str] = request.getfixturevalue("new_postgres_database")
        return new_database()
    return default_database_url(tmp_path)


@pytest.fixture
def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id-{next(counter):04d}"


@pytest.fixture
async def store(db_url: str, clock: FakeClock, ids: Callable[[], str]) -> AsyncIterator[Store]:
    async with Store.open(db_url, clock=clock, new_id=ids) as opened:
        yield opened
