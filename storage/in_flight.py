"""One request per environment and version on its way, however many replicas are asked at once.

Checking for a request already on its way and inserting a new one must be one step: fifty
``/deploy dev v1.2.0`` sent over two replicas in the same second all saw none on their way
and each stored one, and forty-nine waited in line to deploy the same version again. On
PostgreSQL the check takes a transaction-scoped advisory lock on the environment first, so
concurrent creations for one environment queue behind each other for the length of a short
transaction; SQLite's writes are serialized already.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DeploymentRow

# The high 32 bits name deploybot's request locks; the low 32 are the environment's CRC.
_REQUEST_LOCK_SPACE = 0x64627271 << 32


async def on_its_way(
    session: AsyncSession, environment: str, kind: str, version: str, states: Collection[str]
) -> DeploymentRow | None:
    """The oldest request for ``version`` of ``kind`` to ``environment`` in one of ``states``,
    held until the transaction ends against another replica's check for the same environment."""
    if session.get_bind().dialect.name == "postgresql":
        key = _REQUEST_LOCK_SPACE | zlib.crc32(environment.encode())
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    query = (
        select(DeploymentRow)
        .where(
            DeploymentRow.environment == environment,
            DeploymentRow.kind == kind,
            DeploymentRow.version == version,
            DeploymentRow.state.in_(list(states)),
        )
        .order_by(DeploymentRow.created_at)
        .limit(1)
    )
    return (await session.execute(query)).scalars().first()
