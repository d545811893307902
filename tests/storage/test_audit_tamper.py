"""Tampering with the audit file behind deploybot's back is caught at the right row.

Every test builds a 10-row chain, edits the SQLite file with the plain sqlite3 module (as an
attacker with file access would), and asks verify() what it sees.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage import AuditIntegrityError, Store
from storage.audit_chain import ChainFields, row_hash

ROWS = 10
COLUMNS = ("seq", "id", "at", "actor", "action", "environment", "deployment_id", "details",
           "prev_hash", "hash", "chain_version")  # fmt: skip
FIELDS = (*COLUMNS[:8], "chain_version")

Tamper = Callable[[sqlite3.Connection], None]


@pytest.fixture
async def chain(store: Store, clock: Any) -> Store:
    for n in range(1, ROWS + 1):
        clock.advance(seconds=30)
        await store.audit.append(
            "alice" if n % 2 else "bob",
            f"step.{n}",
            environment="prod",
            deployment_id=f"d-{n // 4}",
            details={"n": n, "version": f"v1.{n}.0"},
        )
    assert (await store.audit.verify()).ok
    return store


def _tamper(path: Path, change: Tamper) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN")
        change(raw)
        raw.execute("COMMIT")
    finally:
        raw.close()


def _row(raw: sqlite3.Connection, seq: int) -> dict[str, Any]:
    values = raw.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_events WHERE seq = ?", (seq,)
    ).fetchone()
    return dict(zip(COLUMNS, values, strict=True))


def _own_hash(row: dict[str, Any]) -> str:
    fields = ChainFields(**{name: row[name] for name in FIELDS})
    return row_hash(row["prev_hash"], fields)


def _insert(raw: sqlite3.Connection, row: dict[str, Any]) -> None:
    raw.execute(
        f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [row[name] for name in COLUMNS],
    )


def _forged(raw: sqlite3.Connection, seq: int, prev_seq: int) -> dict[str, Any]:
    row = {
        "seq": seq,
        "id": "forged-row",
        "at": "2026-11-21T09:02:45.000000+00:00",
        "actor": "mallory",
        "action": "approval.granted",
        "environment": "prod",
        "deployment_id": "d-1",
        "details": '{"version":"v6.6.6"}',
        "prev_hash": _row(raw, prev_seq)["hash"],
        "chain_version": 2,
    }
    row["hash"] = _own_hash(row)
    return row


def edit_column(column: str, value: object) -> Tamper:
    def change(raw: sqlite3.Connection) -> None:
        raw.execute(f"UPDATE audit_events SET {column} = ? WHERE seq = 5", (value,))

    return change


def delete_rows(*seqs: int) -> Tamper:
    def change(raw: sqlite3.Connection) -> None:
        raw.executemany("DELETE FROM audit_events WHERE seq = ?", [(s,) for s in seqs])

    return change


def delete_middle_and_renumber(raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events WHERE seq = 5")
    for seq in range(6, ROWS + 1):
        raw.execute("UPDATE audit_events SET seq = seq - 1 WHERE seq = ?", (seq,))
    raw.execute("UPDATE audit_head SET seq = seq - 1")


def delete_last_and_fix_head_count(raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events WHERE seq = ?", (ROWS,))
    raw.execute("UPDATE audit_head SET seq = ?", (ROWS - 1,))


def insert_forged_at_end(raw: sqlite3.Connection) -> None:
    _insert(raw, _forged(raw, ROWS + 1, ROWS))


def insert_forged_in_middle(raw: sqlite3.Connection) -> None:
    for seq in range(ROWS, 5, -1):
        raw.execute("UPDATE audit_events SET seq = seq + 1 WHERE seq = ?", (seq,))
    _insert(raw, _forged(raw, 6, 5))
    raw.execute("UPDATE audit_head SET seq = seq + 1")


def edit_and_rehash(raw: sqlite3.Connection) -> None:
    row = _row(raw, 5)
    row["actor"] = "mallory"
    raw.execute(
        "UPDATE audit_events SET actor = ?, hash = ? WHERE seq = 5", ("mallory", _own_hash(row))
    )


def delete_head(raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_head")


def swap_rows_4_and_5(raw: sqlite3.Connection) -> None:
    four, five = _row(raw, 4), _row(raw, 5)
    assignments = ", ".join(f"{name} = ?" for name in COLUMNS[1:])
    raw.execute("UPDATE audit_events SET id = 'swap' WHERE seq = 5")
    raw.execute(f"UPDATE audit_events SET {assignments} WHERE seq = 4",
                [five[name] for name in COLUMNS[1:]])  # fmt: skip
    raw.execute(f"UPDATE audit_events SET {assignments} WHERE seq = 5",
                [four[name] for name in COLUMNS[1:]])  # fmt: skip


CASES = [
    pytest.param(
        edit_column("actor", "mallory"),
        5,
        "row 5: hash does not match its contents (edited?)",
        id="edit actor",
    ),
    pytest.param(
        edit_column("action", "step.nothing"), 5, "row 5: hash does not match", id="edit action"
    ),
    pytest.param(
        edit_column("environment", None), 5, "row 5: hash does not match", id="edit environment"
    ),
    pytest.param(
        edit_column("deployment_id", "d-9"), 5, "row 5: hash does not match", id="edit deployment"
    ),
    pytest.param(edit_column("id", "another-id"), 5, "row 5: hash does not match", id="edit id"),
    pytest.param(
        edit_column("details", '{"n":5,"version":"v6.6.6"}'),
        5,
        "row 5: hash does not match",
        id="edit details",
    ),
    pytest.param(
        edit_column("details", '{"n": 5, "version": "v1.5.0"}'),
        5,
        "row 5: hash does not match",
        id="edit details spacing",
    ),
    pytest.param(
        edit_column("at", "2026-11-21T08:00:00.000000+00:00"),
        5,
        "row 5: hash does not match",
        id="edit time",
    ),
    pytest.param(edit_column("at", "yesterday"), 5, "row 5: hash does not match", id="garble time"),
    pytest.param(edit_column("hash", "f" * 64), 5, "row 5: hash does not match", id="edit hash"),
    pytest.param(
        edit_column("prev_hash", "0" * 64),
        5,
        "row 5: previous-hash link broken",
        id="edit prev_hash",
    ),
    pytest.param(
        delete_rows(5), 6, "row 6: sequence gap after 4 (deleted?)", id="delete middle row"
    ),
    pytest.param(
        delete_rows(5, 6), 7, "row 7: sequence gap after 4 (deleted?)", id="delete two middle rows"
    ),
    pytest.param(
        delete_rows(1), 2, "row 2: the chain starts at 2, not 1 (deleted?)", id="delete first row"
    ),
    pytest.param(
        delete_rows(ROWS),
        ROWS,
        "head says 10 rows but chain ends at 9 (last row deleted?)",
        id="delete last row",
    ),
    pytest.param(
        delete_rows(*range(1, ROWS + 1)),
        1,
        "head says 10 rows but chain ends at 0",
        id="delete every row",
    ),
    pytest.param(
        delete_middle_and_renumber, 5, "row 5: previous-hash link broken", id="delete and renumber"
    ),
    pytest.param(
        delete_last_and_fix_head_count,
        9,
        "row 9: the head's hash does not match the last row",
        id="delete last, fix head count",
    ),
    pytest.param(
        insert_forged_at_end, 11, "row 11: not recorded in the head", id="insert forged row at end"
    ),
    pytest.param(
        insert_forged_in_middle,
        7,
        "row 7: previous-hash link broken",
        id="insert forged row in middle",
    ),
    pytest.param(
        edit_and_rehash, 6, "row 6: previous-hash link broken", id="edit row and re-hash it"
    ),
    pytest.param(swap_rows_4_and_5, 4, "row 4: previous-hash link broken", id="swap two rows"),
]


@pytest.mark.parametrize(("tamper", "first_bad", "problem"), CASES)
async def test_tampering_is_caught_at_the_first_bad_row(
    chain: Store, db_path: Path, tamper: Tamper, first_bad: int | None, problem: str
) -> None:
    _tamper(db_path, tamper)
    result = await chain.audit.verify()
    assert not result.ok
    assert result.first_bad_seq == first_bad
    assert result.problem is not None
    assert result.problem.startswith(problem), result.problem
    expected_good = (first_bad or 1) - 1
    assert result.checked == min(expected_good, result.last_seq)


async def test_tampered_rows_still_read_and_the_break_stays_visible(
    chain: Store, db_path: Path
) -> None:
    _tamper(db_path, edit_column("at", "yesterday"))
    _tamper(db_path, edit_column("details", "{not json"))
    rows = await chain.audit.query(newest_first=False)
    assert rows[4].details == {"$raw": "{not json"}
    appended = await chain.audit.append("alice", "after.tamper")
    assert appended.seq == ROWS + 1
    result = await chain.audit.verify()
    assert (result.ok, result.first_bad_seq) == (False, 5)


async def test_missing_head_row_is_reported_and_blocks_appends(chain: Store, db_path: Path) -> None:
    _tamper(db_path, delete_head)
    result = await chain.audit.verify()
    assert (result.ok, result.problem) == (False, "the audit head row is missing (deleted?)")
    with pytest.raises(AuditIntegrityError, match="head row is missing"):
        await chain.audit.append("alice", "x")
