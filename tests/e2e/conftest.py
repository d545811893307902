from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.local import LocalStack, local_stack
from storage import Deployment
from tests.conftest import database_backends


def fast(mapping: dict[str, Any]) -> dict[str, Any]:
    """Seconds instead of minutes, and no freeze windows or promotion order unless a test
    adds them (most tests deploy straight to prod)."""
    mapping["freezes"] = []
    for env in mapping["environments"].values():
        env.pop("requires", None)
        env["health"] = {
            **env.get("health", {}),
            "watch": "1s",
            "watch_interval": "0.2s",
            "version_wait": "3s",
            "throughput": {"requests": 20, "concurrency": 5, "min_rps": 5},
        }
    return mapping


@pytest.fixture
def overrides() -> Callable[[dict[str, Any]], dict[str, Any]]:
    return fast


@pytest.fixture(params=database_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every end-to-end test runs on a SQLite file and on a fresh real PostgreSQL database."""
    if request.param == "postgresql":
        new_database: Callable[[], str] = request.getfixturevalue("new_postgres_database")
        return new_database()
    return f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"


@pytest.fixture
async def stack(
    database_url: str, overrides: Callable[[dict[str, Any]], dict[str, Any]]
) -> AsyncIterator[LocalStack]:
    async with local_stack(
        overrides=overrides,
        database_url=database_url,
        publisher_interval=0.05,
    ) as s:
        yield s


async def latest(stack: LocalStack, env: str) -> Deployment:
    found = await stack.services.store.deployments.latest(env, limit=1)
    assert found, f"no deployment on {env}"
    return found[0]


async def served_version(url: str) -> str:
    async with httpx.AsyncClient() as http:
        return str((await http.get(f"{url}/health")).json()["version"])
