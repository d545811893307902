"""What `deploybot serve` loads: everything serving needs and nothing it does not.

Each start runs with ``-X importtime`` (its report goes to a file) against `deploybot sandbox`
and the Slack-compatible API, until /readyz says ready. The first start creates the database
through Alembic; a restart finds it at the packaged head and never imports Alembic. Neither
loads Azure Monitor's client (no metrics were read), charts, nor the console, demo, Slack
emulator or sandbox modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import httpx

from .conftest import base_env, free_port, sandbox_process
from .fake_slack import fake_slack

NEVER_IN_SERVE = (
    "azure.mgmt.monitor",
    "matplotlib",
    "bot.console",
    "bot.slackemu",
    "commands.platform.sandbox",
)


def imported(importtime: str) -> set[str]:
    """Every module named in a ``python -X importtime`` report."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in importtime.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def loaded(modules: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in modules)


async def serve_until_ready(env: dict[str, str], cwd: Path, config: Path, log: Path) -> set[str]:
    port = free_port()
    with log.open("w") as report:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-X", "importtime", "-m", "bot", "serve",
            "--config", str(config), "--port", str(port),
            env=env, cwd=cwd, stdout=asyncio.subprocess.DEVNULL, stderr=report,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                for _ in range(600):
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                            break
                    assert process.returncode is None, _text(log)[-2000:]
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError("serve never became ready")
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 60)
    assert code == 0, _text(log)[-2000:]
    return imported(_text(log))


async def test_serve_loads_alembic_only_to_migrate_and_never_the_unused_parts(
    tmp_path: Path,
) -> None:
    async with sandbox_process(tmp_path) as (sandbox, config), fake_slack() as slack:
        env = {
            **base_env(),
            **sandbox.variables,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": f"{slack.url}/api/",
            "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}",
        }
        first = await serve_until_ready(env, tmp_path, config, tmp_path / "first.txt")
        again = await serve_until_ready(env, tmp_path, config, tmp_path / "again.txt")
    assert {"bot.cli.serve", "azure.mgmt.web", "storage.revision"} <= first & again
    assert loaded(first, "alembic")  # the new database was created by its migrations
    assert not loaded(again, "alembic")
    assert not loaded(again, "mako")
    for package in NEVER_IN_SERVE:
        assert not loaded(first, package), package
        assert not loaded(again, package), package
