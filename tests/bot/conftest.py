from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.local import SIGNING_SECRET, LocalStack, local_stack

__all__ = ["SIGNING_SECRET", "Edge", "edge"]

# The Slack edge is the whole bot, built as production builds it, on the local Slack and Azure.
Edge = LocalStack


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    async with local_stack(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}", publisher_interval=0.05
    ) as stack:
        yield stack
