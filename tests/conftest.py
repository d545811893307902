"""Fixtures every test folder shares: one real PostgreSQL cluster per session, if installed.

The cluster starts on first use (a test that asks for ``postgres_server`` or a fresh
database) and stops at the end of the session; each test gets its own empty database in it,
so tests never see each other's rows and the cluster's start-up is paid once.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, start_postgres

_numbers = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks SQLite itself; the storage suite runs it on SQLite only"
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    # Not pytest's tmp_path: the postgres user must be able to reach the cluster's folder.
    directory = Path(tempfile.mkdtemp(prefix="deploybot-pg-"))
    server = start_postgres(directory)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def new_postgres_database(postgres_server: PostgresServer) -> Callable[[], str]:
    """Make another empty database in the session's cluster; returns its URL."""
    return lambda: postgres_server.create_database(f"test_{next(_numbers)}")


def database_backends() -> list[object]:
    """``params`` for a fixture that runs a test on SQLite and on PostgreSQL."""
    from tests.postgres_server import needs_postgres

    return ["sqlite", pytest.param("postgresql", marks=needs_postgres)]
