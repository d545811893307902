"""`deploybot audit verify` with DEPLOYBOT_AUDIT_KEY and --checkpoint FILE, through main()."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.__main__ import main
from storage import AuditKey, Keyring, Store, default_database_url

KEY = "k" * 32


def write_log(tmp_path: Path, rows: int) -> Path:
    async def write() -> None:
        url = default_database_url(tmp_path)
        async with Store.open(url, audit_keys=Keyring(AuditKey.from_text(KEY))) as store:
            for n in range(rows):
                await store.audit.append("alice", f"step.{n}")

    asyncio.run(write())
    return tmp_path / "deploybot.db"


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["audit", "verify", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_key_and_checkpoint_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = write_log(tmp_path, 5)
    monkeypatch.setenv("DEPLOYBOT_AUDIT_KEY", KEY)
    code, out, _ = verify(capsys, "--database", str(db))
    assert code == 0
    assert "key not checked" not in out
    assert f"key {AuditKey.from_text(KEY).key_id}: 5 row(s) keyed" in out
    assert "checkpoints: none given" in out
    # The last line is a checkpoint: keep it, and the next verify compares with it.
    checkpoints = tmp_path / "checkpoints.txt"
    checkpoints.write_text("kept from an earlier verify:\n" + out.splitlines()[-1] + "\n")

    code, out, _ = verify(capsys, "--database", str(db), "--checkpoint", str(checkpoints))
    assert code == 0
    assert "checkpoints: 1 matched, the newest at row 5" in out

    with sqlite3.connect(db) as raw:  # truncate and restore an older head: a rollback
        raw.execute("DELETE FROM audit_events WHERE seq > 3")
        raw.execute(
            "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_events WHERE seq = 3)"
        )
    code, _, err = verify(capsys, "--database", str(db), "--checkpoint", str(checkpoints))
    assert code == 1
    assert "the log ends at row 3, but the checkpoint at row 5 recorded 5 rows" in err
    monkeypatch.delenv("DEPLOYBOT_AUDIT_KEY")
    assert verify(capsys, "--database", str(db))[0] == 0  # the plain chain alone sees nothing
    assert verify(capsys, "--database", str(db), "--checkpoint", str(checkpoints))[0] == 1


def test_cannot_check_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = write_log(tmp_path, 2)
    monkeypatch.setenv("DEPLOYBOT_AUDIT_KEY", "w" * 32)
    code, _, err = verify(capsys, "--database", str(db))
    assert code == 2
    assert "cannot check the key: the key does not match this log" in err
    monkeypatch.setenv("DEPLOYBOT_AUDIT_KEY", "short")
    code, _, err = verify(capsys, "--database", str(db))
    assert (code, "DEPLOYBOT_AUDIT_KEY: an audit key needs at least 32 bytes" in err) == (2, True)
    monkeypatch.delenv("DEPLOYBOT_AUDIT_KEY")
    empty = tmp_path / "empty.txt"
    empty.write_text("nothing here\n")
    code, _, err = verify(capsys, "--database", str(db), "--checkpoint", str(empty))
    assert (code, "no checkpoint line in" in err) == (2, True)
    config = tmp_path / "deploybot.yml"
    config.write_text((Path(__file__).parents[2] / "deploybot.example.yml").read_text())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    code, _, err = verify(capsys, "--database", str(db), "--against-slack", "--config", str(config))
    assert (code, "audit.checkpoint_channel: must be set for --against-slack" in err) == (2, True)
