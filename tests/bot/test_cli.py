from __future__ import annotations

import io
import json
import logging
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main

ROOT = Path(__file__).resolve().parents[2]


def deploybot(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_check_summarises_a_good_config(tmp_path: Path) -> None:
    result = deploybot("check", "--config", str(ROOT / "deploybot.example.yml"), cwd=tmp_path)
    assert result.returncode == 0
    assert "OK — 3 environment(s)" in result.stdout
    assert (
        "approvals: 2 of U0BOB, U0CAROL; self-approval not allowed; expire after 30m"
        in result.stdout
    )
    assert "Traffic Manager virtualqueue-production-tm" in result.stdout


def test_a_bad_config_names_file_key_and_expectation_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "deploybot.yml"
    bad.write_text(
        (ROOT / "deploybot.example.yml").read_text().replace("required: 2 ", "required: lots ")
    )
    result = deploybot("check", cwd=tmp_path)  # ./deploybot.yml is the default
    assert result.returncode == 2
    assert f"{bad.name}: invalid configuration" in result.stderr
    assert "environments.prod.approvals.required" in result.stderr
    assert "Traceback" not in result.stderr
    missing = deploybot("check", cwd=tmp_path, env={"DEPLOYBOT_CONFIG": str(tmp_path / "nope.yml")})
    assert missing.returncode == 2
    assert "cannot read the file" in missing.stderr


def test_serve_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = deploybot(
        "serve",
        "--config",
        str(ROOT / "deploybot.example.yml"),
        cwd=tmp_path,
        env={"SLACK_SIGNING_SECRET": "", "SLACK_BOT_TOKEN": ""},
    )
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET: must be set for this mode" in result.stderr


def test_audit_verify_and_export_after_a_console_session(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("/deploy lock prod test\n/deploy unlock prod\n/deploy nonsense\n")
    env = {"DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"}
    assert deploybot("console", "--script", str(script), cwd=tmp_path, env=env).returncode == 0
    verified = deploybot("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact" in verified.stdout
    exported = deploybot("audit", "export", "--format", "jsonl", cwd=tmp_path, env=env)
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["action"] for r in rows][:3] == [
        "command.received",
        "lock.acquired",
        "command.received",
    ]
    csv_out = tmp_path / "audit.csv"
    assert (
        deploybot(
            "audit", "export", "--format", "csv", "--output", str(csv_out), cwd=tmp_path, env=env
        ).returncode
        == 0
    )
    assert csv_out.read_text().startswith("seq,id,at,actor,action")
    with sqlite3.connect(tmp_path / "audit.db") as raw:
        raw.execute("UPDATE audit_events SET actor = 'U0MALLORY' WHERE seq = 2")
    broken = deploybot("audit", "verify", "--database", "audit.db", cwd=tmp_path)
    assert broken.returncode == 1
    assert "BROKEN at row 2" in broken.stderr


def test_since_must_be_a_time(capsys: object) -> None:
    out = io.StringIO()
    try:
        main(["audit", "export", "--since", "yesterday"])
    except SystemExit as stop:
        out.write(str(stop))
    assert "is not an ISO-8601 time" in out.getvalue()


async def test_check_live_reads_slack_and_every_environment_from_azure(tmp_path: Path) -> None:
    import asyncio
    import os

    from bot.slackemu import SlackEmulator, reference_workspace
    from commands.platform.sandbox import Sandbox, SandboxSystem

    async with (
        Sandbox.start(SandboxSystem.reference()) as sb,
        SlackEmulator.start(reference_workspace(), bot_token="xoxb-live") as emu,
    ):
        config = tmp_path / "deploybot.yml"
        config.write_text(sb.config_yaml())
        env = {
            **os.environ,
            **sb.env(),
            "SLACK_BOT_TOKEN": "xoxb-live",
            "SLACK_API_URL": emu.api_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "check",
            "--config",
            str(config),
            "--live",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    out = stdout.decode()
    assert process.returncode == 0, out + stderr.decode()
    assert "✓ slack: Deploybot Demo as deploybot" in out
    assert "✓ azure prod: blue serves v1.1.0" in out
    assert "✓ azure staging: production serves v1.1.0" in out
    assert "live checks: OK" in out


def test_a_bad_log_level_or_format_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    config = str(ROOT / "deploybot.example.yml")
    level = deploybot(
        "check", "--config", config, cwd=tmp_path, env={"DEPLOYBOT_LOG_LEVEL": "verbose"}
    )
    assert level.returncode == 2
    assert level.stderr == (
        "deploybot: DEPLOYBOT_LOG_LEVEL='verbose' is not a log level; "
        "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL\n"
    )
    fmt = deploybot("check", "--config", config, cwd=tmp_path, env={"DEPLOYBOT_LOG_FORMAT": "xml"})
    assert fmt.returncode == 2
    assert (
        fmt.stderr
        == "deploybot: DEPLOYBOT_LOG_FORMAT='xml' is not a log format; use one of text, json\n"
    )
    fine = deploybot(
        "check",
        "--config",
        config,
        cwd=tmp_path,
        env={"DEPLOYBOT_LOG_LEVEL": "debug", "DEPLOYBOT_LOG_FORMAT": "json"},
    )
    assert fine.returncode == 0, fine.stderr
    assert all(json.loads(line)["level"] for line in fine.stderr.splitlines())


def test_audit_reads_an_existing_database_and_never_creates_one(tmp_path: Path) -> None:
    for action in (["verify"], ["export", "--format", "csv"]):
        default = deploybot("audit", *action, cwd=tmp_path)
        assert default.returncode == 2
        assert default.stderr == (
            f"deploybot: no audit database at {tmp_path.resolve() / 'deploybot.db'} "
            "(set DEPLOYBOT_DATABASE_URL or pass --database PATH|URL)\n"
        )
        named = deploybot("audit", *action, "--database", "elsewhere.db", cwd=tmp_path)
        assert named.returncode == 2
        assert f"no audit database at {tmp_path.resolve() / 'elsewhere.db'} " in named.stderr
    assert list(tmp_path.iterdir()) == []
    unsupported = deploybot("audit", "verify", "--database", "mysql://db/audit", cwd=tmp_path)
    assert unsupported.returncode == 2
    assert "unsupported database 'mysql'" in unsupported.stderr
    assert "Traceback" not in unsupported.stderr


async def _audit_rows(url: str, count: int) -> None:
    from storage import Store

    async with Store.open(url) as store:
        for n in range(count):
            await store.audit.append("U0ALICE", "command.received", details={"n": n})


def test_audit_export_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    import asyncio
    import os

    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    asyncio.run(_audit_rows(url, 20))
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has already gone: every write fails with EPIPE
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "audit", "export", "--database", url],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            cwd=tmp_path,
            check=False,
        )
    finally:
        os.close(write)
    assert result.returncode == 141  # 128 + SIGPIPE, as for any tool cut off by `head`
    assert result.stderr == ""


async def test_the_bolt_app_uses_our_client_without_an_unused_token_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.app import create_app
    from bot.local import BOT_TOKEN, local_stack

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # as under `serve`
    db = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
    async with local_stack(database_url=db) as stack:
        with caplog.at_level(logging.WARNING):
            app = create_app(stack.settings, stack.services)
            logging.getLogger("slack_bolt.AsyncApp").warning("later warnings still show")
            # What building the app logged; the stack's shutdown is not this test's subject.
            logged = [r.getMessage() for r in caplog.records]
    assert app.client is stack.services.slack
    assert app.client.token == BOT_TOKEN
    assert logged == ["later warnings still show"]


# Declared dependencies that are used without an import statement of their own.
USED_WITHOUT_IMPORT = {
    "aiosqlite": "SQLAlchemy loads it for sqlite+aiosqlite:// URLs",
    "asyncpg": "SQLAlchemy loads it for postgresql+asyncpg:// URLs (several replicas)",
    "tzdata": "zoneinfo reads its time zones where the system has none",
    "httptools": "uvicorn parses HTTP with it (in C) wherever it is installed, h11 otherwise",
    "azure-mgmt-core": "the ARM pipeline under azure-mgmt-web/-trafficmanager/-monitor, pinned",
}


def test_every_declared_dependency_is_imported_somewhere() -> None:
    import ast
    import importlib.metadata
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    tops: dict[str, set[str]] = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            tops.setdefault(dist.lower(), set()).add(top)
    imported: set[str] = set()
    for package in ("bot", "commands", "storage"):
        for source in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Import):
                    imported.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module)

    def uses(dist: str) -> bool:
        # azure-* share the namespace package `azure`: match azure-mgmt-web as azure.mgmt.web
        names = {dist.replace("-", "."), dist.replace("-", "_")} | (
            tops.get(dist, set()) - {"azure"}
        )
        return any(m == n or m.startswith(n + ".") for m in imported for n in names)

    unused = sorted(d for d in declared - USED_WITHOUT_IMPORT.keys() if not uses(d))
    assert unused == [], f"declared in pyproject.toml but never imported: {unused}"


async def test_check_live_without_azure_credentials_says_so_in_one_line(tmp_path: Path) -> None:
    import asyncio
    import os

    from commands.platform.sandbox import Sandbox, SandboxSystem

    async with Sandbox.start(SandboxSystem.reference()) as sb:
        config = tmp_path / "deploybot.yml"
        config.write_text(sb.config_yaml())
        no_credentials = {
            k: v for k, v in sb.env().items() if k not in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
        }
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SLACK_"))},
            **no_credentials,
            "HOME": str(tmp_path),  # no cached Azure CLI or VS Code login
            "PATH": str(tmp_path),  # no az, pwsh or azd to ask
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "check",
            "--config",
            str(config),
            "--live",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    out = stdout.decode()
    assert process.returncode == 1
    assert stderr.decode() == ""  # azure-identity's dozen-line warnings stay quiet
    azure = [line for line in out.splitlines() if line.startswith(("  ✗ azure", "  ✓ azure"))]
    assert len(azure) == 1, out
    assert "no usable Azure credentials found" in azure[0]
    assert "AZURE_CLIENT_ID" in azure[0]
    assert "az login" in azure[0]
