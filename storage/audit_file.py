"""A SQLite file's audit rows for ``audit verify``, read on a connection of verify's own.

The standard library's driver is iterated row by row (no SQLAlchemy rows, no batches handed
between threads): reading the rows is most of what verifying a million of them costs. The
connection holds one read transaction from ``open`` to ``close``, so the head and every row
read through it come from one snapshot. Its methods block: call them in a thread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from storage.audit_result import VerifyResult
from storage.audit_walk import Head, Walker

_ROWS = "SELECT {columns} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq"
_LARGEST = 2**63 - 1  # SQLite's largest integer


class FileRows:
    def __init__(self, conn: sqlite3.Connection, head: Head | None) -> None:
        self._conn = conn
        self.head = head

    @classmethod
    def open(cls, path: Path) -> FileRows:
        conn = sqlite3.connect(path, check_same_thread=False)  # used from one thread at a time
        try:
            conn.execute("PRAGMA query_only = 1")
            conn.execute("BEGIN")
            row = conn.execute("SELECT seq, hash, key_id, mac FROM audit_head WHERE id = 1")
            found = row.fetchone()
        except BaseException:
            conn.close()
            raise
        return cls(conn, None if found is None else Head(*found))

    def walk(self, walker: Walker, after: int = 0, until: int | None = None) -> VerifyResult | None:
        """Walk the rows with ``after < seq <= until`` (every row after ``after`` when
        ``until`` is None); the first bad one's result, or None."""
        sql = _ROWS.format(columns=walker.select_list)
        rows = self._conn.execute(sql, (after, _LARGEST if until is None else until))
        with contextlib.closing(rows):
            return walker.walk(rows)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.rollback()
        self._conn.close()
