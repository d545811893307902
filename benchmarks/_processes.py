"""Processes for the benchmarks that measure the bot from outside: the sandbox, the Slack API,
``deploybot serve`` and the bare Starlette baseline, each its own process, plus what the kernel
says about them (RSS, CPU time)."""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"  # _slack_api.TOKEN
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "SLACK_", "DEPLOYBOT_"))
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    keep["PYTHONPATH"] = str(REPO)
    return keep


def compile_project() -> None:
    """Byte-compile bot/, commands/ and storage/ as ``pip install`` does for an installed bot.

    The benchmarks run the working tree, where nothing writes ``.pyc`` files while
    ``PYTHONDONTWRITEBYTECODE`` is set (this machine sets it): every start would compile the
    project's ~250 modules from source first (~0.3 s of CPU) and time that instead of the bot.
    The files go to the tree's ``__pycache__`` folders, which git ignores."""
    for package in ("bot", "commands", "storage"):
        compileall.compile_dir(REPO / package, quiet=1)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (the peak so far) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Proc:
    """A child process and how long it took from spawn to its first line."""

    process: asyncio.subprocess.Process
    url: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def spawn(args: Sequence[str], env: dict[str, str], cwd: Path) -> Proc:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return Proc(process)


async def line_with(proc: Proc, text: str, timeout: float = 60) -> str:  # noqa: ASYNC109
    """Read the process's standard output up to the first line containing ``text``."""
    assert proc.process.stdout is not None

    async def read() -> str:
        assert proc.process.stdout is not None
        while line := (await proc.process.stdout.readline()).decode():
            if text in line:
                return line
        raise RuntimeError(f"{text!r} never came: the process exited")

    return await asyncio.wait_for(read(), timeout)


async def wait_http(url: str, proc: Proc, timeout: float = 60) -> tuple[float, float]:  # noqa: ASYNC109
    """Poll ``url`` every 5 ms until it answers 200; returns the perf_counter then and the CPU
    seconds ``proc`` had used by then. Stops early if ``proc`` exits (say, its port was taken
    between ``free_port`` and its bind)."""
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.perf_counter() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return time.perf_counter(), cpu_seconds(proc.pid)
            if proc.process.returncode is not None:
                raise RuntimeError(f"the process exited ({proc.process.returncode}) before {url}")
            await asyncio.sleep(0.005)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


@dataclass(frozen=True)
class Sandbox:
    env: dict[str, str]
    config: Path
    admin_url: str


@contextlib.asynccontextmanager
async def sandbox(folder: Path, extra: int) -> AsyncIterator[Sandbox]:
    proc = await spawn([str(HERE / "_sandbox.py"), str(folder), str(extra)], base_env(), folder)
    try:
        admin = (await line_with(proc, "Admin API:")).split()[2]
        await line_with(proc, "Sandbox ready")
        lines = (folder / "sandbox.env").read_text().splitlines()
        env = dict(line.split("=", 1) for line in lines if "=" in line)
        yield Sandbox(env, folder / "deploybot.yml", admin)
    finally:
        await proc.stop()


@contextlib.asynccontextmanager
async def slack_api(folder: Path) -> AsyncIterator[Proc]:
    port = free_port()
    proc = await spawn([str(HERE / "_slack_api.py"), str(port)], base_env(), folder)
    try:
        await line_with(proc, "slack api on")
        proc.url = f"http://127.0.0.1:{port}"
        yield proc
    finally:
        await proc.stop()


def bot_env(folder: Path, azure: dict[str, str], slack_url: str) -> dict[str, str]:
    return {
        **base_env(),
        **azure,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"{slack_url}/api/",
        "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'deploybot.db'}",
    }


@dataclass(frozen=True)
class Started:
    """Wall seconds from spawn to /healthz 200 and to /readyz 200, and the CPU seconds the
    process had used at each."""

    proc: Proc
    healthz_s: float
    readyz_s: float
    healthz_cpu_s: float
    readyz_cpu_s: float


async def start_serve(folder: Path, config: Path, env: dict[str, str]) -> Started:
    """``deploybot serve`` started and timed: spawn → /healthz 200, spawn → /readyz 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    proc = await spawn(
        ["-m", "bot", "serve", "--config", str(config), "--port", str(port)], env, folder
    )
    proc.url = url
    healthy, healthy_cpu = await wait_http(f"{url}/healthz", proc)
    ready, ready_cpu = await wait_http(f"{url}/readyz", proc)
    return Started(proc, healthy - began, ready - began, healthy_cpu, ready_cpu)


async def start_bare(folder: Path, slack_url: str) -> Started:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    proc = await spawn([str(HERE / "_bare.py"), str(port)], base_env(), folder)
    proc.url = url
    ready, cpu = await wait_http(f"{url}/readyz", proc)
    return Started(proc, ready - began, ready - began, cpu, cpu)
