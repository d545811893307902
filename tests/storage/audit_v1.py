"""Audit logs as deploybot wrote them before revision 0013: chain encoding 1, no version column.

``write_v1_log`` builds such a database with plain sqlite3 and the encoding-1 formula written
out again here (not imported), so the tests show an existing database still verifies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from pathlib import Path

from sqlalchemy.ext.asyncio import create_async_engine

from storage import AuditKey, schema

GENESIS = "0" * 64
V1_REVISION = "0010"  # the schema before chain_version existed


def v1_hash(prev_hash: str, fields: list[object]) -> str:
    encoded = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + encoded).encode("utf-8")).hexdigest()


async def _create_schema(path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(schema.upgrade, V1_REVISION)
    finally:
        await engine.dispose()


async def write_v1_log(path: Path, rows: int, key: AuditKey | None = None) -> str:
    """A database at revision 0010 holding ``rows`` encoding-1 rows; returns the last hash."""
    await _create_schema(path)
    prev = GENESIS
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        for seq in range(1, rows + 1):
            at = f"2026-11-20T10:00:{seq % 60:02d}.000000+00:00"
            env = None if seq % 5 == 0 else "prod"
            details = json.dumps({"n": seq, "note": "läuft ✓"}, ensure_ascii=False,
                                 sort_keys=True, separators=(",", ":"))  # fmt: skip
            fields: list[object] = [seq, f"v1-{seq}", at, "alice", "step", env, None, details]
            digest = v1_hash(prev, fields)
            keyed = (key.key_id, key.row_mac(digest)) if key else (None, None)
            raw.execute(
                "INSERT INTO audit_events (seq, id, at, actor, action, environment, "
                "deployment_id, details, prev_hash, hash, key_id, mac) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*fields, prev, digest, *keyed),
            )
            prev = digest
        head_keyed = (key.key_id, key.head_mac(rows, prev)) if key else (None, None)
        raw.execute(
            "UPDATE audit_head SET seq = ?, hash = ?, key_id = ?, mac = ?",
            (rows, prev, *head_keyed),
        )
    return prev
