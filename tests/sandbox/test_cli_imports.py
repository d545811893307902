"""``deploybot sandbox`` starts without the bot's heavy parts: it never validates a ``Config``,
so pydantic (nor the database layer) is imported, up to its ready line and after writing its
``deploybot.yml`` from the reference mapping."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from commands.platform.sandbox.cli import READY_LINE

REPO = Path(__file__).resolve().parents[2]
NOT_FOR_THE_SANDBOX = ("pydantic", "sqlalchemy", "alembic", "slack_bolt")


def _imported(importtime: str) -> set[str]:
    """Top-level package names in ``python -X importtime`` output."""
    names = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


async def test_the_sandbox_process_imports_no_pydantic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    config_out = tmp_path / "deploybot.yml"
    sandbox = await asyncio.create_subprocess_exec(
        sys.executable, "-X", "importtime", "-m", "bot", "sandbox", "--load", "0",
        "--config-out", str(config_out),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert sandbox.stdout is not None
    try:
        while (line := (await asyncio.wait_for(sandbox.stdout.readline(), 60)).decode()) != "":
            if line.strip() == READY_LINE:
                break
        else:
            raise AssertionError("the sandbox exited before it was ready")
        assert "environments:" in config_out.read_text(encoding="utf-8")
    finally:
        sandbox.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(sandbox.communicate(), 30)
    assert sandbox.returncode == 0, err.decode()[-2000:]
    imported = _imported(err.decode())
    assert "commands" in imported  # the importtime output was read
    assert imported.isdisjoint(NOT_FOR_THE_SANDBOX), imported & set(NOT_FOR_THE_SANDBOX)
