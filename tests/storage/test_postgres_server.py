"""The throw-away PostgreSQL test cluster itself: starts, makes databases, answers, stops."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.postgres_server import needs_postgres, start_postgres


@needs_postgres
async def test_a_cluster_starts_serves_fresh_databases_and_stops() -> None:
    directory = Path(tempfile.mkdtemp(prefix="deploybot-pg-"))
    server = start_postgres(directory)
    try:
        url = server.create_database("probe_one")
        assert url.startswith("postgresql+asyncpg://") and url.endswith("/probe_one")
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                version = (await connection.execute(text("SHOW server_version_num"))).scalar()
                name = (await connection.execute(text("SELECT current_database()"))).scalar()
        finally:
            await engine.dispose()
        assert int(str(version)) >= 150000
        assert name == "probe_one"
    finally:
        server.stop()
        server.stop()  # twice is fine
        shutil.rmtree(directory, ignore_errors=True)
    assert not (directory / "data" / "postmaster.pid").exists()
