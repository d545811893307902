"""Write the audit log out as JSON lines or CSV, oldest first, with the chain's hashes.

JSON lines carry ``details`` as an object; CSV carries it as its stored canonical JSON text,
so a CSV export can be re-verified byte for byte (``chain_version`` names the encoding).

Rows stream from one read transaction, so memory stays flat at any size. ``since`` first finds
the oldest row stamped at or after it through the index on ``at`` and reads on by ``seq`` from
there, so exporting the last day of a million-row log reads only that day's rows.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit_chain import parse_details
from storage.db import Database
from storage.errors import InvalidValueError
from storage.models import AuditEventRow
from storage.timeutil import iso_utc

ExportFormat = Literal["jsonl", "csv"]
EXPORT_COLUMNS = (
    "seq",
    "id",
    "at",
    "actor",
    "action",
    "environment",
    "deployment_id",
    "details",
    "prev_hash",
    "hash",
    "chain_version",
)
_BATCH = 2000
_Writer = Callable[[Row[Any]], None]
_COLUMNS = tuple(AuditEventRow.__table__.c[name] for name in EXPORT_COLUMNS)


async def export_rows(
    db: Database,
    fmt: ExportFormat,
    out: TextIO,
    since: datetime | None = None,
    *,
    batch_size: int = _BATCH,
) -> int:
    """Write rows with ``at >= since`` (all rows when None) to ``out``; return how many."""
    if fmt not in ("jsonl", "csv"):
        raise InvalidValueError(f"unknown export format {fmt!r}; use 'jsonl' or 'csv'")
    since_text = None if since is None else iso_utc(since)
    write = _jsonl_writer(out) if fmt == "jsonl" else _csv_writer(out)
    written = 0
    async with db.read() as session:
        query = select(*_COLUMNS).order_by(AuditEventRow.seq)
        if since_text is not None:
            first = await first_seq_since(session, since_text)
            if first is None:
                return 0
            # Rows after ``first`` are newer in all but clock skew: keep the filter for those.
            query = query.where(AuditEventRow.seq >= first, AuditEventRow.at >= since_text)
        result = await session.stream(query.execution_options(yield_per=batch_size))
        async for rows in result.partitions():
            for row in rows:
                write(row)
            written += len(rows)
    return written


def first_seq_since_query(since_text: str) -> Select[int]:
    """The oldest ``seq`` stamped at or after ``since_text``, from ``ix_audit_events_at``.

    The inner query's OFFSET keeps it a separate query (PostgreSQL does not merge a subquery
    with one): merged, ``min(seq)`` may be planned as a walk along ``seq`` until the first row
    that matches, which for a recent ``since`` is nearly the whole table."""
    stamped = select(AuditEventRow.seq).where(AuditEventRow.at >= since_text).offset(0).subquery()
    return select(func.min(stamped.c.seq))


async def first_seq_since(session: AsyncSession, since_text: str) -> int | None:
    return (await session.execute(first_seq_since_query(since_text))).scalar()


def _jsonl_writer(out: TextIO) -> _Writer:
    def write(row: Row[Any]) -> None:
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        record["details"] = parse_details(row.details)
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")

    return write


def _csv_writer(out: TextIO) -> _Writer:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)

    def write(row: Row[Any]) -> None:
        writer.writerow(["" if value is None else value for value in row])

    return write
