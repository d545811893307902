from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bot.console.session import open_console
from bot.settings import Settings
from commands.config import config_from_text, reference_text

SETTINGS = Settings(config_from_text(reference_text()))


async def test_console_lines_act_as_slack_users(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        assert console.prompt == "alice in #deploys> "
        assert any("ships versions" in line for line in await console.handle("/deploy help"))
        assert await console.handle("as bob") == ["(you are now bob)"]
        assert console.prompt == "bob in #deploys> "
        locked = await console.handle("/deploy lock prod migrating")
        assert any("prod is locked: migrating" in line for line in locked)
        await console.handle("as dave")
        refused = await console.handle("/deploy unlock prod")
        assert any("you can't change prod" in line for line in refused)
        assert any("dave" in line and "no role" in line for line in await console.handle("users"))
        assert (await console.handle("as mallory"))[0].startswith("! ")
        assert (await console.handle("click 7"))[0] == "! there is no button 7 in the last output"
        assert (await console.handle("frobnicate"))[0].startswith("! unknown console command")
        assert await console.handle("in #incidents") == ["(you are now in #incidents)"]
        events = await console.services.store.audit.query()
        assert {e.actor for e in events} >= {"U0ALICE", "U0BOB", "U0DAVE"}


def test_console_script_runs_as_a_user_would(tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_text("/deploy status\nas carol\n/deploy history\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "alice in #deploys> /deploy status" in result.stdout
    assert "carol in #deploys> /deploy history" in result.stdout
    assert "No deployments yet" in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_exits_zero_and_reads_like_a_conversation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "== dave has no role" in result.stdout
    assert "held by @alice" in result.stdout
    assert "Did you mean `prod`?" in result.stdout
