from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path

from bot.console.cli import demo
from bot.console.session import open_console
from bot.settings import Settings, load_settings
from commands.config import config_from_text, reference_text

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = Settings(config_from_text(reference_text()))


async def test_console_lines_act_as_slack_users(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        assert console.prompt == "alice in #deploys> "
        assert any("ships versions" in line for line in await console.handle("/deploy help"))
        status = "\n".join(await console.handle("/deploy status prod"))
        assert "live `v1.1.0`" in status
        assert "blue `v1.1.0` 100% (Online)" in status
        assert await console.handle("as bob") == ["(you are now bob)"]
        locked = await console.handle("/deploy lock prod migrating")
        assert any("prod is locked: migrating" in line for line in locked)
        await console.handle("as dave")
        refused = await console.handle("/deploy unlock prod")
        assert any("you can't change prod" in line for line in refused)
        assert any("dave" in line and "no role" in line for line in await console.handle("users"))
        assert (await console.handle("as mallory"))[0].startswith("! ")
        assert (await console.handle("click 7"))[0] == "! there is no button 7 in the last output"
        assert (await console.handle("frobnicate"))[0].startswith("! unknown console command")
        assert (await console.handle("fault nonsense"))[0].startswith("! not a fault I know")
        assert (await console.handle("fault version v1.3.0 error_rate=lots"))[0].startswith("! ")
        assert await console.handle("in #incidents") == ["(you are now in #incidents)"]


async def test_a_deploy_typed_at_the_console_runs_against_the_sandbox(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        assert "(version v1.3.0 now misbehaves: unhealthy)" in await console.handle(
            "fault version v1.3.0 unhealthy"
        )
        card = "\n".join(await console.handle("/deploy dev v1.3.0"))
        assert "Deploy · dev" in card
        finished = "\n".join(await console.handle("wait"))
        assert "Failed" in finished
        assert "Production untouched" in finished
        assert console.stack.sandbox.version("virtualqueue-dev") == "v1.1.0"


async def test_a_missing_artifact_is_refused_when_asked_for(tmp_path: Path) -> None:
    """Pre-checks that cost nothing run when the deploy is asked for: nothing is created."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        await console.handle("fault version v1.3.0 missing")
        refused = "\n".join(await console.handle("/deploy dev v1.3.0"))
        assert "Sorry, v1.3.0 cannot go to dev now: the artifact" in refused
        assert "answered 404" in refused
        assert "Deploy · dev" not in refused
        assert await console.stack.services.store.deployments.latest("dev") == []


def test_console_script_runs_as_a_user_would(tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_text("/deploy status\nas carol\n/deploy history\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "alice in #deploys> /deploy status" in result.stdout
    assert "carol in #deploys> /deploy history" in result.stdout
    assert "No deployments yet" in result.stdout
    assert "Traceback" not in result.stderr
    # The audit log outlives the session, and the console says where and how to check it.
    db = (tmp_path / "deploybot-console.db").resolve()
    hint = f"Audit log: {db}; check it with: deploybot audit verify --database {db}"
    assert result.stdout.splitlines()[2] == hint  # under the banner
    assert result.stdout.splitlines()[-1] == hint  # and at the end
    verified = subprocess.run(
        [sys.executable, "-m", "bot", "audit", "verify", "--database", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact" in verified.stdout


def test_demo_exits_zero_and_reads_like_a_conversation(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Sorry, you can't approve your own request. Ask @carol." in out
    assert "@carol approved (2 of 2) — approvals complete" in out
    assert "Traffic: blue → green" in out
    assert "swap back" in out
    assert "Rolled back" in out
    assert "Roll *prod* back from `v1.2.0` to `v1.1.0`?" in out
    assert "flip back to blue" in out
    # It ends with the incident drill: the thread, the click, traffic restored.
    assert "(the incident thread opened " in out and "[1] Roll back to v1.3.0" in out
    assert "(incident thread: Traffic back on v1.3.0 after " in out
    # The canaries: v1.3.0 promoted through every stage, v1.4.0 taken out at 25 %.
    assert "Stage 3 (50 %) passed" in out and "production serves v1.3.0" in out
    assert "[file] prod v1.3.0 · stage 1 · 10 % canary (" in out  # a chart in the thread
    assert "(version v1.4.0 now misbehaves: error_rate=0.3)" in out
    assert "Stage 2 breached: canary error rate" in out
    assert "canary out of traffic" in out and "*prod*  `v1.3.0` → `v1.4.0`" in out
    assert "\n! " not in out, "a demo line was refused by the console"
    assert "Traceback" not in result.stderr


async def test_a_dialog_says_it_is_open_and_how_to_answer(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        await console.handle("/deploy prod v1.2.0 --force")
        await console.handle("as bob")
        assert await console.handle("click 2") == [
            "? Reject deployment is open, asking for: Reason (optional)",
            "  answer with: submit TEXT, or submit to leave it empty",
        ]
        rejected = "\n".join(await console.handle("submit not today"))
        assert "@bob rejected: not today" in rejected
        assert (await console.handle("submit"))[0] == "! no dialog is open"
        assert (await console.handle("help"))[-1] == (
            f"  Audit log: {tmp_path / 'c.db'}; "
            f"check it with: deploybot audit verify --database {tmp_path / 'c.db'}"
        )


async def test_wait_watching_answers_at_once_when_no_job_could_get_there(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db) as console:
        nothing = await asyncio.wait_for(console.handle("wait watching"), timeout=30)
        assert nothing == [
            "? nothing to wait for: no job is running that could reach watching "
            "(no deployment is in progress)"
        ]
        await console.handle("/deploy prod v1.2.0 --force")  # waits for two leads
        waiting = await asyncio.wait_for(console.handle("wait watching"), timeout=30)
        assert waiting[-1].endswith("(prod v1.2.0 is pending approval)"), waiting
        assert (await console.handle("wait a bit"))[0].startswith("! wait for what?")


def test_demo_plays_on_the_given_config(tmp_path: Path) -> None:
    config = tmp_path / "team.yml"
    text = (ROOT / "deploybot.example.yml").read_text()
    config.write_text(text.replace("deployers: [U0ALICE] ", "deployers: [U0ALICE, U0DAVE] "))
    out = io.StringIO()
    assert demo(load_settings(str(config), {}), out, script="users\n") == 0
    assert f"Configuration: {config}." in out.getvalue()
    assert any(
        line.split()[:3] == ["dave", "U0DAVE", "deployers"] for line in out.getvalue().splitlines()
    )
