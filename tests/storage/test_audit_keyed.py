"""The attacks an insider with write access can make, and which layer catches each.

Every test builds a 10-row chain written with a key, takes a checkpoint of its head (as the
bot posts to Slack), edits the SQLite file with the plain sqlite3 module, and verifies with
each combination of layers. ``ATTACKS`` is the table in ``storage/audit_verify``'s docstring
and the README: the expected outcome of every layer is asserted, the passes included.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage import AuditIntegrityError, Store
from storage.audit_chain import ChainFields, row_hash
from storage.audit_checkpoint import Checkpoint
from storage.audit_key import AuditKey, Keyring
from storage.audit_verify import verify_chain
from storage.audit_walk import Walker
from storage.models import GENESIS_HASH

ROWS = 10
KEY = AuditKey.from_text("k" * 32)
OTHER_KEY = AuditKey.from_text("o" * 32)
FIELDS = ("seq", "id", "at", "actor", "action", "environment", "deployment_id", "details",
          "chain_version")  # fmt: skip
COLUMNS = (*FIELDS, "prev_hash", "hash", "key_id", "mac")


@dataclass
class Chain:
    store: Store
    path: Path
    checkpoint: Checkpoint  # of the head after row 10, as the bot would post it
    head_at_8: tuple[Any, ...]  # the genuine head row after row 8, as an insider could copy
    backup_at_8: Path  # a copy of the database after row 8


Attack = Callable[[Chain, sqlite3.Connection], None]


@pytest.fixture
async def chain(
    tmp_path: Path, db_url: str, db_path: Path, clock: Any, ids: Callable[[], str]
) -> AsyncIterator[Chain]:
    async with Store.open(db_url, clock=clock, new_id=ids, audit_keys=Keyring(KEY)) as store:
        backup = tmp_path / "backup.db"
        head_at_8: tuple[Any, ...] = ()
        for n in range(1, ROWS + 1):
            event = await store.audit.append("alice", f"step.{n}", environment="prod")
            if n == 8:
                with sqlite3.connect(db_path) as raw, sqlite3.connect(backup) as copy:
                    head_at_8 = raw.execute(
                        "SELECT seq, hash, key_id, mac FROM audit_head"
                    ).fetchone()
                    raw.backup(copy)
        point = Checkpoint(event.seq, event.hash, event.mac, "2026-11-21T09:10:00Z")
        yield Chain(store, db_path, point, head_at_8, backup)


def _tamper(path: Path, attack: Callable[[sqlite3.Connection], None]) -> None:
    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("BEGIN")
        attack(raw)
        raw.execute("COMMIT")
    finally:
        raw.close()


def _row(raw: sqlite3.Connection, seq: int) -> dict[str, Any]:
    values = raw.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_events WHERE seq = ?", (seq,)
    ).fetchone()
    return dict(zip(COLUMNS, values, strict=True))


def _rechain(raw: sqlite3.Connection, start: int, key: AuditKey | None) -> None:
    """Recompute the hashes (and, given the key, the MACs) from row ``start`` on, and the head:
    what an insider who knows the formula can do."""
    prev = _row(raw, start - 1)["hash"] if start > 1 else GENESIS_HASH
    last = raw.execute("SELECT max(seq) FROM audit_events").fetchone()[0] or 0
    for seq in range(start, last + 1):
        row = _row(raw, seq)
        digest = row_hash(prev, ChainFields(**{name: row[name] for name in FIELDS}))
        key_id, mac = (key.key_id, key.row_mac(digest)) if key else (row["key_id"], row["mac"])
        raw.execute(
            "UPDATE audit_events SET prev_hash = ?, hash = ?, key_id = ?, mac = ? WHERE seq = ?",
            (prev, digest, key_id, mac, seq),
        )
        prev = digest
    head_key, head_mac = (key.key_id, key.head_mac(last, prev)) if key else (None, None)
    raw.execute(
        "UPDATE audit_head SET seq = ?, hash = ?, key_id = ?, mac = ?",
        (last, prev, head_key, head_mac),
    )


def _forge(raw: sqlite3.Connection, seq: int) -> dict[str, Any]:
    row = {
        "seq": seq,
        "id": "forged-row",
        "at": "2026-11-21T09:02:45.000000+00:00",
        "actor": "mallory",
        "action": "approval.granted",
        "environment": "prod",
        "deployment_id": None,
        "details": "{}",
        "chain_version": 2,
        "prev_hash": _row(raw, seq - 1)["hash"],
        "key_id": None,
        "mac": None,
    }
    row["hash"] = row_hash(row["prev_hash"], ChainFields(**{name: row[name] for name in FIELDS}))
    return row


# -- the attacks -----------------------------------------------------------------------------
def edit_one_row(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5")


def edit_and_rehash_all_after(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5")
    _rechain(raw, 5, key=None)


def append_forged_row_and_head(chain: Chain, raw: sqlite3.Connection) -> None:
    row = _forge(raw, ROWS + 1)
    raw.execute(
        f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [row[name] for name in COLUMNS],
    )
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (ROWS + 1, row["hash"]))


def append_forged_row_with_a_copied_mac(chain: Chain, raw: sqlite3.Connection) -> None:
    row = _forge(raw, ROWS + 1) | {"key_id": KEY.key_id, "mac": _row(raw, ROWS)["mac"]}
    raw.execute(
        f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [row[name] for name in COLUMNS],
    )
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (ROWS + 1, row["hash"]))


def delete_last_rows_and_rewrite_head(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events WHERE seq > 8")
    raw.execute("UPDATE audit_head SET seq = 8, hash = ?", (_row(raw, 8)["hash"],))


def delete_last_rows_and_copy_a_row_mac_to_the_head(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events WHERE seq > 8")
    last = _row(raw, 8)
    raw.execute("UPDATE audit_head SET seq = 8, hash = ?, mac = ?", (last["hash"], last["mac"]))


def delete_last_rows_and_restore_an_older_head(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events WHERE seq > 8")
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?, key_id = ?, mac = ?", chain.head_at_8)


def restore_an_older_backup(chain: Chain, raw: sqlite3.Connection) -> None:
    with sqlite3.connect(chain.backup_at_8) as backup:
        rows = backup.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events").fetchall()
        head = backup.execute("SELECT seq, hash, key_id, mac FROM audit_head").fetchone()
    raw.execute("DELETE FROM audit_events")
    raw.executemany(
        f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        rows,
    )
    raw.execute("UPDATE audit_head SET seq = ?, hash = ?, key_id = ?, mac = ?", head)


def delete_everything(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM audit_events")
    raw.execute(
        "UPDATE audit_head SET seq = 0, hash = ?, key_id = NULL, mac = NULL", (GENESIS_HASH,)
    )


def strip_macs_then_edit_and_rehash(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE audit_events SET key_id = NULL, mac = NULL")
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5")
    _rechain(raw, 5, key=None)


def strip_the_mac_of_a_forged_last_row(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute(
        "UPDATE audit_events SET actor = 'mallory', key_id = NULL, mac = NULL WHERE seq = 10"
    )
    _rechain(raw, 10, key=None)


def edit_and_rehash_with_the_leaked_key(chain: Chain, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5")
    _rechain(raw, 5, key=KEY)


# attack, then ok? for: plain chain, + key, checkpoint without the key, key + checkpoint
ATTACKS = [
    pytest.param(edit_one_row, False, False, False, False, id="edit one row"),
    pytest.param(edit_and_rehash_all_after, True, False, False, False, id="edit + rehash after"),
    pytest.param(append_forged_row_and_head, True, False, True, False, id="append forged + head"),
    pytest.param(
        append_forged_row_with_a_copied_mac, True, False, True, False, id="append, copied mac"
    ),
    pytest.param(
        delete_last_rows_and_rewrite_head, True, False, False, False, id="delete last + head"
    ),
    pytest.param(
        delete_last_rows_and_copy_a_row_mac_to_the_head,
        True,
        False,
        False,
        False,
        id="delete last + row mac as head mac",
    ),
    pytest.param(
        delete_last_rows_and_restore_an_older_head,
        True,
        True,
        False,
        False,
        id="rollback to an older genuine head",
    ),
    pytest.param(restore_an_older_backup, True, True, False, False, id="older backup"),
    pytest.param(delete_everything, True, True, False, False, id="delete everything"),
    pytest.param(
        strip_macs_then_edit_and_rehash, True, True, False, False, id="strip macs, edit + rehash"
    ),
    pytest.param(
        strip_the_mac_of_a_forged_last_row, True, False, False, False, id="strip mac of last row"
    ),
    pytest.param(edit_and_rehash_with_the_leaked_key, True, True, False, False, id="key leaked"),
]


@pytest.mark.parametrize(("attack", "plain", "keyed", "pinned", "both"), ATTACKS)
async def test_which_layer_detects_each_attack(
    chain: Chain, attack: Attack, plain: bool, keyed: bool, pinned: bool, both: bool
) -> None:
    _tamper(chain.path, lambda raw: attack(chain, raw))
    db, points = chain.store.db, [chain.checkpoint]
    outcomes = {
        "plain": await verify_chain(db),
        "keyed": await verify_chain(db, keyring=Keyring(KEY)),
        "pinned": await verify_chain(db, checkpoints=points),
        "both": await verify_chain(db, keyring=Keyring(KEY), checkpoints=points),
    }
    expected = {"plain": plain, "keyed": keyed, "pinned": pinned, "both": both}
    assert {name: r.ok for name, r in outcomes.items()} == expected, {
        name: r.problem for name, r in outcomes.items()
    }
    for result in outcomes.values():
        assert result.ok or (result.problem and not result.key_mismatch)


async def test_an_untouched_keyed_chain_passes_every_layer(chain: Chain) -> None:
    result = await chain.store.audit.verify(checkpoints=[chain.checkpoint])
    assert (result.ok, result.key_checked, result.keyed, result.plain_only) == (True, True, 10, 0)
    assert result.checkpoints == 1
    assert result.last_mac == chain.checkpoint.mac


async def test_stripped_macs_show_as_rows_covered_only_by_the_plain_chain(chain: Chain) -> None:
    _tamper(chain.path, lambda raw: strip_macs_then_edit_and_rehash(chain, raw))
    result = await verify_chain(chain.store.db, keyring=Keyring(KEY))
    assert (result.ok, result.keyed, result.plain_only) == (True, 0, ROWS)


@pytest.mark.parametrize(
    ("attack", "problem"),
    [
        (edit_and_rehash_all_after, "row 5: MAC does not match"),
        (append_forged_row_and_head, "row 11: no MAC, though the rows before it are keyed"),
        (append_forged_row_with_a_copied_mac, "row 11: MAC does not match"),
        (delete_last_rows_and_rewrite_head, "the head's MAC does not match row 8"),
        (delete_last_rows_and_copy_a_row_mac_to_the_head, "the head's MAC does not match row 8"),
    ],
)
async def test_the_key_names_what_it_found(chain: Chain, attack: Attack, problem: str) -> None:
    _tamper(chain.path, lambda raw: attack(chain, raw))
    result = await verify_chain(chain.store.db, keyring=Keyring(KEY))
    assert result.problem is not None and result.problem.startswith(problem), result.problem


@pytest.mark.parametrize(
    ("attack", "problem"),
    [
        (edit_and_rehash_with_the_leaked_key, "row 10: hash differs from the checkpoint of"),
        (delete_last_rows_and_restore_an_older_head, "the log ends at row 8, but the checkpoint"),
        (restore_an_older_backup, "the log ends at row 8, but the checkpoint"),
        (delete_everything, "the log ends at row 0, but the checkpoint"),
        (strip_macs_then_edit_and_rehash, "row 10: hash differs from the checkpoint"),
    ],
)
async def test_a_checkpoint_names_what_it_found(chain: Chain, attack: Attack, problem: str) -> None:
    _tamper(chain.path, lambda raw: attack(chain, raw))
    result = await verify_chain(
        chain.store.db, keyring=Keyring(KEY), checkpoints=[chain.checkpoint]
    )
    assert result.problem is not None and result.problem.startswith(problem), result.problem


async def test_a_checkpoint_mac_catches_stripped_macs_without_an_edit(chain: Chain) -> None:
    _tamper(
        chain.path, lambda raw: raw.execute("UPDATE audit_events SET key_id = NULL, mac = NULL")
    )
    _tamper(chain.path, lambda raw: raw.execute("UPDATE audit_head SET key_id = NULL, mac = NULL"))
    result = await verify_chain(chain.store.db, checkpoints=[chain.checkpoint])
    assert result.problem is not None
    assert result.problem.startswith("row 10: MAC differs from the checkpoint of")


async def test_a_wrong_key_is_reported_as_such_not_as_tampering(chain: Chain) -> None:
    result = await verify_chain(chain.store.db, keyring=Keyring(OTHER_KEY))
    assert (result.ok, result.key_mismatch, result.first_bad_seq) == (False, True, 1)
    assert result.problem is not None
    assert result.problem.startswith("the key does not match this log: row 1 was written with")
    assert KEY.key_id in result.problem and OTHER_KEY.key_id in result.problem


async def test_rows_before_the_key_are_covered_by_the_plain_chain_only(
    db_url: str, clock: Any
) -> None:
    async with Store.open(db_url, clock=clock) as store:
        for n in range(3):
            await store.audit.append("alice", f"before.{n}")
    async with Store.open(db_url, clock=clock, audit_keys=Keyring(KEY)) as store:
        for n in range(2):
            await store.audit.append("alice", f"after.{n}")
        result = await store.audit.verify()
    assert (result.ok, result.plain_only, result.keyed, result.last_seq) == (True, 3, 2, 5)


async def test_a_keyed_log_refuses_appends_without_the_key(chain: Chain, db_url: str) -> None:
    async with Store.open(db_url) as unkeyed:
        with pytest.raises(AuditIntegrityError, match="set it"):
            await unkeyed.audit.append("alice", "no.key")
    assert (await chain.store.audit.verify()).ok


async def test_a_rotated_key_verifies_with_the_previous_key_beside_it(
    chain: Chain, db_url: str
) -> None:
    rotated = Keyring(OTHER_KEY, previous=[KEY])
    async with Store.open(db_url, audit_keys=rotated) as store:
        event = await store.audit.append("alice", "after.rotation")
    assert event.key_id == OTHER_KEY.key_id
    result = await verify_chain(chain.store.db, keyring=rotated)
    assert (result.ok, result.keyed) == (True, ROWS + 1)
    only_new = await verify_chain(chain.store.db, keyring=Keyring(OTHER_KEY))
    assert only_new.key_mismatch and only_new.first_bad_seq == 1
    only_old = await verify_chain(chain.store.db, keyring=Keyring(KEY))
    assert only_old.key_mismatch and only_old.first_bad_seq == ROWS + 1


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuditKey.from_text("short")


def test_the_key_id_names_the_key_without_revealing_it() -> None:
    assert KEY.key_id != OTHER_KEY.key_id and len(KEY.key_id) == 16
    assert "k" * 32 not in repr(KEY)


def test_only_a_walk_that_checks_macs_reads_them(chain: Chain) -> None:
    with_mac = chain.checkpoint
    without_mac = Checkpoint(with_mac.seq, with_mac.hash)
    reads = {
        "plain": Walker(None, []),
        "checkpoint without a MAC": Walker(None, [without_mac]),
        "checkpoint with a MAC": Walker(None, [with_mac]),
        "key": Walker(Keyring(KEY), []),
    }
    assert {name: "NULL AS mac" not in w.select_list for name, w in reads.items()} == {
        "plain": False, "checkpoint without a MAC": False, "checkpoint with a MAC": True,
        "key": True,
    }  # fmt: skip
