"""Fixtures every test folder shares: one real PostgreSQL cluster per session, if installed.

The cluster starts on first use (a test that asks for ``postgres_server`` or a fresh
database) and stops at the end of the session; each test gets its own database in it, so
tests never see each other's rows and the cluster's start-up is paid once. That database is
a copy of one migrated once per session (the migrations' own tests take empty ones).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, start_postgres

_numbers = itertools.count(1)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    # Most tests wait on child processes and sockets, not on the CPU: with one worker per
    # core a third of the machine sat idle (load 1.3-1.7 on 2 cores), so one more.
    return (os.cpu_count() or 1) + 1


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks SQLite itself; the storage suite runs it on SQLite only"
    )
    config.addinivalue_line(
        "markers", "empty_database: the test's PostgreSQL database starts empty, not migrated"
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


@pytest.fixture(scope="session")
def postgres_template_at_head(postgres_server: PostgresServer) -> str:
    """A database migrated to the head once, for the tests' databases to be copied from."""
    from storage import Store

    name = "template_at_head"
    url = postgres_server.create_database(name)

    async def migrate() -> None:
        async with Store.open(url):
            pass  # opening migrates; closing leaves no connection, as a template needs

    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        worker.submit(asyncio.run, migrate()).result(timeout=120)
    return name


@pytest.fixture
def new_postgres_database(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Make another database in the session's cluster (at the head, or empty for a test
    marked ``empty_database``); returns its URL."""
    template = None
    if request.node.get_closest_marker("empty_database") is None:
        template = str(request.getfixturevalue("postgres_template_at_head"))
    return lambda: postgres_server.create_database(f"test_{next(_numbers)}", template=template)


def database_backends() -> list[object]:
    """``params`` for a fixture that runs a test on SQLite and on PostgreSQL."""
    from tests.postgres_server import needs_postgres

    return ["sqlite", pytest.param("postgresql", marks=needs_postgres)]
