"""The production entry points as a team runs them: `deploybot sandbox` and `deploybot serve`
(or `socket`) as processes, and a Slack-compatible API written here, not the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient

from commands.platform.sandbox.cli import READY_LINE
from tests.ports import free_port

from .fake_slack import FakeSlack, fake_slack

REPO = Path(__file__).resolve().parents[2]
PROFILE = ("rg-virtualqueue-prod", "virtualqueue-production-tm")


def base_env() -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "SLACK_", "DEPLOYBOT_"))
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    keep["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), keep.get("PYTHONPATH")]))
    return keep


def quick(config: dict[str, Any]) -> dict[str, Any]:
    """What a team tunes for a test system: seconds instead of minutes, no freeze windows,
    no promotion order (most tests deploy straight to prod; test_serve_queue.py puts
    ``requires: [staging]`` back)."""
    config["freezes"] = []
    for env in config["environments"].values():
        env.pop("requires", None)
        env["health"] = {
            **env.get("health", {}),
            "watch": "3s",
            "watch_interval": "0.5s",
            "version_wait": "10s",
            "throughput": {"requests": 20, "concurrency": 5, "min_rps": 5},
        }
    return config


@dataclass
class SandboxProcess:
    process: asyncio.subprocess.Process
    variables: dict[str, str]
    config: dict[str, Any]
    admin_url: str

    def public_url(self, environment: str) -> str:
        return str(self.config["environments"][environment]["urls"]["public"])

    async def served_versions(self, environment: str, requests: int = 20) -> set[str]:
        """What the public host answers, request after request (the front door splits)."""
        seen = set()
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(requests):
                answer = await http.get(f"{self.public_url(environment)}/health")
                seen.add(str(answer.json()["version"]))
        return seen

    def credential(self) -> ClientSecretCredential:
        """The sandbox's service principal, as an official SDK client signs in with it."""
        v = self.variables
        return ClientSecretCredential(
            v["AZURE_TENANT_ID"],
            v["AZURE_CLIENT_ID"],
            v["AZURE_CLIENT_SECRET"],
            authority=v["AZURE_AUTHORITY_HOST"],
            connection_verify=v["SSL_CERT_FILE"],
        )

    async def traffic_manager(self) -> dict[str, tuple[str, int]]:
        """Ground truth through the official SDK: each endpoint's status and weight."""
        v = self.variables
        async with (
            self.credential() as credential,
            TrafficManagerManagementClient(
                credential,
                v["AZURE_SUBSCRIPTION_ID"],
                base_url=v["AZURE_RESOURCE_MANAGER_URL"],
                connection_verify=v["SSL_CERT_FILE"],
                retry_total=0,
            ) as tm,
        ):
            profile = await tm.profiles.get(*PROFILE)
        return {
            str(e.name): (
                str(getattr(e.endpoint_status, "value", e.endpoint_status)),
                e.weight or 0,
            )
            for e in profile.endpoints or ()
        }

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The sandbox's admin API (faults, state, the ARM request log)."""
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.request(method, f"{self.admin_url}{path}", json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def enabled_endpoints(self) -> set[str]:
        return {
            n for n, (status, _) in (await self.traffic_manager()).items() if status == "Enabled"
        }


@dataclass
class BotProcess:
    """One `deploybot serve|socket` process; it can be stopped, killed and started again."""

    mode: str
    cwd: Path
    env: dict[str, str]
    config_file: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            self.mode,
            "--config",
            str(self.config_file),
            "--port",
            str(self.port),
            env=self.env,
            cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        banner = await asyncio.wait_for(self.process.stdout.readline(), timeout=60)
        assert banner, await self.stderr()
        await self.wait_ready()

    async def wait_ready(self, timeout: float = 60) -> dict[str, Any]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    answer = await http.get(f"{self.url}/readyz")
                    if answer.status_code == 200:
                        return dict(answer.json())
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{self.mode} never became ready: {await self.stderr()}")
                await asyncio.sleep(0.1)

    async def metrics(self) -> str:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{self.url}/metrics")).text

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:  # noqa: ASYNC109
        """Signal the process and wait for it; returns its exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        _, err = await asyncio.wait_for(self.process.communicate(), timeout)
        self.logs.append(err.decode(errors="replace"))
        return int(self.process.returncode or 0)

    async def stderr(self) -> str:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
        if self.process is not None:
            _, err = await self.process.communicate()
            self.logs.append(err.decode(errors="replace"))
        return "\n".join(self.logs)


@dataclass
class Production:
    sandbox: SandboxProcess
    slack: FakeSlack
    bot: BotProcess
    database: Path

    async def audit_verify(self) -> tuple[int, str]:
        verify = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "audit",
            "verify",
            env=self.bot.env,
            cwd=self.bot.cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(verify.communicate(), 60)
        return int(verify.returncode or 0), out.decode()


async def _read_until_ready(stream: asyncio.StreamReader) -> str:
    """The sandbox's banner up to its ready line; returns the admin API's base URL."""
    lines, admin = [], ""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError("the sandbox exited before it was ready:\n" + "".join(lines))
        lines.append(line)
        if line.startswith("Admin API:"):
            admin = line.split()[2].removesuffix("/admin/state")
        if line.strip() == READY_LINE:
            return admin


@contextlib.asynccontextmanager
async def sandbox_process(
    tmp_path: Path, tune: Callable[[dict[str, Any]], None] | None = None
) -> AsyncIterator[tuple[SandboxProcess, Path]]:
    env_file, config_out = tmp_path / "sandbox.env", tmp_path / "sandbox.yml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--load",
        "0",  # tests that want users make their own traffic, so counts stay theirs
        "--env-file",
        str(env_file),
        "--config-out",
        str(config_out),
        cwd=tmp_path,
        env=base_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        admin_url = await asyncio.wait_for(_read_until_ready(process.stdout), 60)
        lines = env_file.read_text(encoding="utf-8").splitlines()
        variables = dict(line.split("=", 1) for line in lines if "=" in line)
        config = quick(yaml.safe_load(config_out.read_text(encoding="utf-8")))
        if tune is not None:
            tune(config)
        tuned = tmp_path / "deploybot.yml"
        tuned.write_text(yaml.safe_dump(config), encoding="utf-8")
        yield SandboxProcess(process, variables, config, admin_url), tuned
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


@contextlib.asynccontextmanager
async def production(
    tmp_path: Path,
    mode: str = "serve",
    tune: Callable[[dict[str, Any]], None] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Production]:
    """``tune`` changes the sandbox's configuration before the bot first reads it; ``env``
    adds variables to the bot's environment (say ``DEPLOYBOT_ALERT_TOKEN``)."""
    async with (
        sandbox_process(tmp_path, tune) as (sandbox, config_file),
        fake_slack() as slack,
    ):
        database = tmp_path / "deploybot.db"
        variables = {
            **base_env(),
            **sandbox.variables,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": f"{slack.url}/api/",
            "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            # A killed process's jobs move on this soon (the default is 10 s).
            "DEPLOYBOT_JOB_LEASE": "2s",
            **(env or {}),
        }
        if mode == "serve":
            variables["SLACK_SIGNING_SECRET"] = slack.signing_secret
        else:
            variables["SLACK_APP_TOKEN"] = slack.app_token
        bot = BotProcess(mode, tmp_path, variables, config_file)
        slack.bot_url = bot.url
        await bot.start()
        running = Production(sandbox, slack, bot, database)
        try:
            yield running
        finally:
            # A test may have replaced the bot (a restart): stop whichever runs now, too.
            for each in {id(bot): bot, id(running.bot): running.bot}.values():
                if each.process is not None and each.process.returncode is None:
                    await each.stop()


@pytest.fixture
async def prod(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path) as running:
        yield running
