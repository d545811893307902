"""`deploybot serve` with DEPLOYBOT_AUDIT_KEY posts audit checkpoints to Slack, and
`deploybot audit verify --against-slack` reads them back: intact passes, truncated fails."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import yaml

from .conftest import BotProcess, base_env, sandbox_process
from .fake_slack import fake_slack

AUDIT_CHANNEL = "C0AUDIT"
KEY = "0123456789abcdef" * 4


async def audit_verify(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    verify = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        "verify",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(verify.communicate(), 60)
    return int(verify.returncode or 0), out.decode()


async def test_checkpoints_posted_by_serve_anchor_the_log(tmp_path: Path) -> None:
    async with sandbox_process(tmp_path) as (sandbox, config_file), fake_slack() as slack:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        config["audit"] = {"checkpoint_channel": AUDIT_CHANNEL, "checkpoint_interval": "1s"}
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        database = tmp_path / "deploybot.db"
        env = {
            **base_env(),
            **sandbox.variables,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": f"{slack.url}/api/",
            "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "DEPLOYBOT_AUDIT_KEY": KEY,
        }
        bot = BotProcess("serve", tmp_path, env, config_file)
        slack.bot_url = bot.url
        await bot.start()
        try:
            for line in ("/deploy status", "/deploy history", "/deploy help"):
                assert await slack.command("U0ALICE", line) == 200
            posts = lambda: [m for m in slack.messages.values() if m.channel == AUDIT_CHANNEL]  # noqa: E731
            first = (await slack.wait_for(posts))[0]
            assert first.text.startswith("Audit checkpoint: ")
            assert "deploybot-audit-checkpoint seq=" in first.text
        finally:
            assert await bot.stop() == 0  # SIGTERM: the last rows are posted on the way out
        assert not any(m.channel != AUDIT_CHANNEL and "checkpoint" in m.text for m in posts())

        args = ("--against-slack", "--config", str(config_file))
        code, out = await audit_verify(env, tmp_path, *args)
        assert code == 0, out
        assert "row(s) keyed" in out and "matched, the newest at row" in out

        with sqlite3.connect(database) as raw:  # the last row goes, the head follows it
            last = raw.execute("SELECT max(seq) FROM audit_events").fetchone()[0]
            assert last >= 3
            raw.execute("DELETE FROM audit_events WHERE seq = ?", (last,))
            (new_hash,) = raw.execute("SELECT hash FROM audit_events WHERE seq = ?", (last - 1,))
            raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (last - 1, new_hash[0]))
        code, out = await audit_verify(env, tmp_path, *args)
        assert code == 1, out
        assert f"the log ends at row {last - 1}, but the checkpoint of" in out
        without_key = {k: v for k, v in env.items() if k != "DEPLOYBOT_AUDIT_KEY"}
        assert (await audit_verify(without_key, tmp_path))[0] == 0  # plain chain: fooled
        assert (await audit_verify(without_key, tmp_path, *args))[0] == 1  # checkpoint: not
