"""The audit log at scale: chain encodings per row, old logs still verifying, and the query
plans `/deploy history` and `audit export --since` get (on SQLite, and on PostgreSQL where it
is installed).

Speed itself is shown by ``benchmarks/audit_scale_bench.py``, not asserted here.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from storage import AuditKey, Checkpoint, Keyring, Store
from storage.audit_chain import ChainFields, hash_v1, row_hash
from storage.audit_export import first_seq_since
from storage.audit_verify import verify_chain
from storage.models import AuditEventRow
from storage.timeutil import iso_utc
from tests.postgres_server import needs_postgres, start_postgres
from tests.storage.audit_v1 import v1_hash, write_v1_log

KEY = AuditKey.from_text("k" * 32)
FINISHED = "deployment.finished"


@contextlib.contextmanager
def _raw(path: Path) -> Iterator[sqlite3.Connection]:
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        yield raw


# -- encodings ---------------------------------------------------------------------------------
def test_encoding_1_is_the_json_formula_it_always_was() -> None:
    fields: list[Any] = [7, "id-7", "2026-11-21T10:00:00.000000+00:00", "ålice", "a.b", None,
                         "d-1", '{"note":"läuft ✓","q":"\\"x\\""}']  # fmt: skip
    assert hash_v1("f" * 64, *fields) == v1_hash("f" * 64, fields)
    chain = ChainFields(*fields, chain_version=1)
    assert row_hash("f" * 64, chain) == v1_hash("f" * 64, fields)


def test_encoding_2_keeps_null_empty_and_shifted_text_apart() -> None:
    def digest(environment: str | None, deployment_id: str | None) -> str:
        fields = ChainFields(1, "i", "t", "a", "x", environment, deployment_id, "{}")
        return row_hash("0" * 64, fields)

    variants = {
        digest(None, None),
        digest("", None),
        digest(None, ""),
        digest("-", None),
        digest("ab", "c"),
        digest("a", "bc"),
        digest("1:a", None),
    }
    assert len(variants) == 7
    with pytest.raises(ValueError, match="unknown chain version 9"):
        row_hash("0" * 64, ChainFields(1, "i", "t", "a", "x", None, None, "{}", chain_version=9))


# -- a log from before chain_version ---------------------------------------------------------
async def test_a_log_from_before_0013_verifies_and_grows_with_encoding_2(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    last_v1 = await write_v1_log(path, 30, key=KEY)
    url = f"sqlite+aiosqlite:///{path}"
    keyring = Keyring(KEY)
    async with Store.open(url, audit_keys=keyring) as store:
        before = await store.audit.verify(checkpoints=[Checkpoint(30, last_v1)])
        assert (before.ok, before.checked, before.keyed) == (True, 30, 30)
        for n in range(5):
            await store.audit.append("bob", f"after.{n}", details={"n": n})
        after = await store.audit.verify(checkpoints=[Checkpoint(30, last_v1)])
    assert (after.ok, after.checked, after.keyed, after.checkpoints) == (True, 35, 35, 1)
    with _raw(path) as raw:
        versions = raw.execute(
            "SELECT chain_version, count(*) FROM audit_events GROUP BY chain_version"
        ).fetchall()
    assert versions == [(1, 30), (2, 5)]


async def test_a_row_moved_back_to_encoding_1_is_named(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await write_v1_log(path, 3)
    url = f"sqlite+aiosqlite:///{path}"
    async with Store.open(url) as store:
        for n in range(3):
            await store.audit.append("bob", f"after.{n}")
    with _raw(path) as raw:  # re-hash row 5 with encoding 1, as an insider could
        row = raw.execute(
            "SELECT seq, id, at, actor, action, environment, deployment_id, details, prev_hash "
            "FROM audit_events WHERE seq = 5"
        ).fetchone()
        digest = v1_hash(row[8], list(row[:8]))
        raw.execute("UPDATE audit_events SET chain_version = 1, hash = ? WHERE seq = 5", (digest,))
        raw.execute("UPDATE audit_events SET prev_hash = ? WHERE seq = 6", (digest,))
    async with Store.open(url) as store:
        result = await store.audit.verify()
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 5, 4)
    assert result.problem == (
        "row 5: hashed with chain encoding 1 after rows with encoding 2 "
        "(re-hashed with an older encoding?)"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("chain_version = 7", "row 2: hashed with chain encoding 7, which this deploybot does "
                              "not know (written by a newer deploybot, or edited?)"),
        ("chain_version = 1", "row 2: hashed with chain encoding 1 after rows with encoding 2 "
                              "(re-hashed with an older encoding?)"),
        ("actor = 'mallory'", "row 2: hash does not match its contents (edited?)"),
    ],
)  # fmt: skip
async def test_an_edited_encoding_is_named(tmp_path: Path, change: str, problem: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
    async with Store.open(url) as store:
        for n in range(4):
            await store.audit.append("alice", f"step.{n}")
    with _raw(tmp_path / "deploybot.db") as raw:
        raw.execute(f"UPDATE audit_events SET {change} WHERE seq = 2")
    async with Store.open(url) as store:
        result = await store.audit.verify()
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 2, problem)


async def test_the_first_row_claiming_encoding_1_fails_its_hash(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
    async with Store.open(url) as store:
        await store.audit.append("alice", "step")
    with _raw(tmp_path / "deploybot.db") as raw:
        raw.execute("UPDATE audit_events SET chain_version = 1")
    async with Store.open(url) as store:
        result = await store.audit.verify()
    assert result.problem == "row 1: hash does not match its contents (edited?)"


# -- query plans -------------------------------------------------------------------------------
async def _fill_for_plans(store: Store, rows: int = 20_000) -> None:
    """Rows shaped like a busy log: mostly Azure calls, a finished deployment now and then."""
    at = iso_utc(store.db.now())
    common = {"actor": "U0ALICE", "at": at, "details": "{}", "chain_version": 2}
    values = [
        common
        | {
            "seq": n,
            "id": f"r-{n}",
            "action": FINISHED if n % 250 == 0 else "azure.call",
            "environment": ("dev", "staging", "prod")[n % 3],
            "deployment_id": f"d-{n // 40}",
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
        for n in range(1, rows + 1)
    ]
    async with store.db.write() as session:
        await session.execute(insert(AuditEventRow), values)
    async with store.db.write() as session:
        conn = await session.connection()
        await conn.exec_driver_sql("ANALYZE")  # the statistics a long-lived database has


async def _plan_of(store: Store, statement: str, parameters: Any) -> str:
    explain = "EXPLAIN QUERY PLAN " if store.db.dialect == "sqlite" else "EXPLAIN "
    async with store.db.read() as session:
        conn = await session.connection()
        rows = (await conn.exec_driver_sql(explain + statement, parameters)).all()
    return "\n".join(str(row[-1]) for row in rows)


async def _issued(store: Store, run: Any) -> list[tuple[str, Any]]:
    """The statements (with parameters) ``run()`` sends to the database."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = store.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return [(s, p) for s, p in seen if "audit_events" in s]


async def _assert_plans(store: Store) -> None:
    await _fill_for_plans(store)
    audit = store.audit

    history = await _issued(
        store, lambda: audit.query(environment="prod", actions=[FINISHED], limit=10)
    )
    every_env = await _issued(store, lambda: audit.query(actions=[FINISHED], limit=10))
    assert len(history) == len(every_env) == 1
    assert "ix_audit_events_environment_action_seq" in await _plan_of(store, *history[0])
    assert "ix_audit_events_action_seq" in await _plan_of(store, *every_env[0])

    async def first_since() -> None:
        async with store.db.read() as session:
            await first_seq_since(session, iso_utc(store.db.now()))

    first = await _issued(store, first_since)
    assert len(first) == 1
    assert "ix_audit_events_at" in await _plan_of(store, *first[0])


async def test_history_and_export_since_use_their_indexes_on_sqlite(tmp_path: Path) -> None:
    async with Store.open(f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}") as store:
        await _assert_plans(store)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    folder = Path(tempfile.mkdtemp(prefix="deploybot-pg-"))
    server = start_postgres(folder)
    try:
        yield server.create_database("audit_plans")
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@needs_postgres
async def test_history_and_export_since_use_their_indexes_on_postgres(postgres_url: str) -> None:
    async with Store.open(postgres_url) as store:
        await _assert_plans(store)


@needs_postgres
async def test_verify_and_export_since_on_postgres(postgres_url: str) -> None:
    async with Store.open(postgres_url, audit_keys=Keyring(KEY)) as store:
        for n in range(5):
            await store.audit.append("alice", f"step.{n}", details={"n": n})
        since = store.db.now()
        await store.audit.append("bob", "after.since")
        result = await verify_chain(store.db, keyring=Keyring(KEY), batch_size=2)
        out = io.StringIO()
        exported = await store.audit.export("jsonl", out, since=since)
    assert (result.ok, result.checked, result.keyed) == (True, 6, 6)
    assert exported == 1
    assert '"action":"after.since"' in out.getvalue()
