"""`deploybot audit export` as a shell pipeline runs it: into `head -1`, which reads one line
and exits while the export still has most of the log to write."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from storage import Store

ROOT = Path(__file__).resolve().parents[2]
ROWS = 3000  # about 1 MB of JSON lines: far more than a pipe buffers


async def _log(url: str) -> None:
    details = {"pad": "x" * 200}
    async with Store.open(url) as store:
        await asyncio.gather(
            *(store.audit.append("U0ALICE", "command.seen", details=details) for _ in range(ROWS))
        )


@pytest.mark.skipif(shutil.which("head") is None, reason="no `head` on PATH")
def test_export_into_head_ends_quietly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
    asyncio.run(_log(url))
    export = subprocess.Popen(
        [sys.executable, "-m", "bot", "audit", "export", "--database", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout, from any folder
    )
    assert export.stdout is not None and export.stderr is not None
    head = subprocess.run(
        ["head", "-1"], stdin=export.stdout, capture_output=True, timeout=60, check=True
    )
    export.stdout.close()  # only `head` holds the read end now, and it has exited
    errors = export.stderr.read().decode()
    code = export.wait(timeout=60)
    export.stderr.close()
    assert errors == ""  # no traceback, no "Exception ignored" from the final flush
    first = json.loads(head.stdout)
    assert (first["seq"], first["action"]) == (1, "command.seen")
    assert code in (0, 141)  # 141 = 128 + SIGPIPE, what any tool cut off by `head` exits with
