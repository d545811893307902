"""Write the audit log out as JSON lines or CSV, oldest first, with the chain's hashes.

JSON lines carry ``details`` as an object; CSV carries it as its stored canonical JSON text,
so a CSV export can be re-verified byte for byte.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Row, select

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
    last_seq = 0
    async with db.read() as session:
        while True:
            query = select(*_COLUMNS).where(AuditEventRow.seq > last_seq)
            if since_text is not None:
                query = query.where(AuditEventRow.at >= since_text)
            rows = (
                await session.execute(query.order_by(AuditEventRow.seq).limit(batch_size))
            ).all()
            for row in rows:
                write(row)
            written += len(rows)
            if len(rows) < batch_size:
                return written
            last_seq = rows[-1].seq


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
