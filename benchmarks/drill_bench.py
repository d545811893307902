"""Incident drill benchmark: time from a fault to the incident thread, and from the click to
traffic restored, against the seeds' targets (MTTD < 5 min, rollback < 5 min).

    python benchmarks/drill_bench.py [--mode auto|real|sandbox|both] [--rounds N]

Everything runs as a team runs it: ``deploybot sandbox`` (with its steady synthetic load) and
``deploybot serve`` as processes, the product's Slack emulator in this process, and the drill's
monitoring (``bot.incidents.drill``): a real Prometheus scraping production's apps every
second with the 5xx-rate rule and a real Alertmanager routing to ``/alerts/alertmanager``, or,
where those binaries are absent, the sandbox's own Alertmanager-shaped webhook. Each round
deploys v1.2.0 to prod, makes it answer half its requests with 5xx, waits for the incident
thread to offer [Roll back to v1.1.0], clicks it as alice and waits for "Traffic back on".

``--mode both`` (the default where Prometheus is installed) prints the real monitoring beside
the sandbox's webhook as the baseline: the difference is Prometheus's scrape, rule evaluation
and Alertmanager's group wait, the bot's own share is in both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml

from benchmarks._common import Row, card_state, render
from bot.incidents.drill import DrillTarget, binaries, drill_monitoring
from bot.slackemu import Message, SlackEmulator, reference_workspace
from commands.platform.sandbox.cli import READY_LINE

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 300.0
TOKEN, BOT_TOKEN, SECRET = "drill-bench-token", "xoxb-drill-bench", "drill-bench-signing"
LOAD_RPS = 20  # the sandbox's steady users, per front door
ERROR_RATE = 0.5


@dataclass(frozen=True)
class Round:
    how: str
    mttd: float
    rollback: float

    @property
    def total(self) -> float:
        return self.mttd + self.rollback


def base_env() -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AZURE_", "SLACK_", "DEPLOYBOT_"))
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    keep["PYTHONPATH"] = str(REPO)
    return keep


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tune(config: dict[str, Any]) -> dict[str, Any]:
    """A test system's knobs: no approvals on prod, short checks, no automatic rollback
    (the click is what is timed), no freeze windows."""
    config["freezes"] = []
    config["incidents"]["auto_rollback_within"] = None
    prod = config["environments"]["prod"]
    prod["approvals"] = {"required": 0}
    prod["health"] = {
        **prod.get("health", {}),
        "watch": "3s",
        "watch_interval": "0.5s",
        "version_wait": "10s",
        "throughput": {"requests": 20, "concurrency": 5, "min_rps": 5},
    }
    return config


@contextlib.asynccontextmanager
async def sandbox(folder: Path) -> AsyncIterator[tuple[dict[str, str], dict[str, Any], str]]:
    """``deploybot sandbox`` as a process: its variables, configuration and admin URL."""
    env_file, config_out = folder / "sandbox.env", folder / "sandbox.yml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--load",
        str(LOAD_RPS),
        "--env-file",
        str(env_file),
        "--config-out",
        str(config_out),
        cwd=folder,
        env=base_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        admin = ""
        while (line := (await process.stdout.readline()).decode()).strip() != READY_LINE:
            if not line:
                raise RuntimeError("the sandbox exited before it was ready")
            if line.startswith("Admin API:"):
                admin = line.split()[2].removesuffix("/admin/state")
        lines = env_file.read_text().splitlines()
        variables = dict(line.split("=", 1) for line in lines if "=" in line)
        yield variables, tune(yaml.safe_load(config_out.read_text())), admin
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await process.wait()


@contextlib.asynccontextmanager
async def serve(folder: Path, variables: dict[str, str], emu: SlackEmulator) -> AsyncIterator[str]:
    port = free_port()
    env = {
        **base_env(),
        **variables,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": emu.api_url,
        "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'deploybot.db'}",
        "DEPLOYBOT_ALERT_TOKEN": TOKEN,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--config",
        str(folder / "deploybot.yml"),
        "--port",
        str(port),
        env=env,
        cwd=folder,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=(folder / "serve.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline or process.returncode is not None:
                    raise RuntimeError(f"serve never became ready; see {folder / 'serve.log'}")
                await asyncio.sleep(0.1)
        emu.connect_app(f"{url}/slack/events", signing_secret=SECRET)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await process.wait()


async def admin(base: str, method: str, path: str, body: Any = None) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.request(method, f"{base}{path}", json=body)
    answer.raise_for_status()


async def served_versions(url: str, ca_file: str, requests: int = 20) -> set[str]:
    verify = ssl.create_default_context(cafile=ca_file)
    async with httpx.AsyncClient(timeout=5, verify=verify) as http:
        return {str((await http.get(f"{url}/health")).json()["version"]) for _ in range(requests)}


async def one_round(real: bool) -> Round:
    with tempfile.TemporaryDirectory(prefix="drill-bench-") as scratch:
        folder = Path(scratch)
        ws = reference_workspace()
        async with (
            sandbox(folder) as (variables, config, admin_url),
            SlackEmulator.start(ws, bot_token=BOT_TOKEN, signing_secret=SECRET) as emu,
        ):
            (folder / "deploybot.yml").write_text(yaml.safe_dump(config))
            async with serve(folder, variables, emu) as bot_url:
                alice = emu.user("alice")
                await alice.command("/deploy", "prod v1.2.0", channel="#deploys")

                def succeeded() -> Message | None:
                    cards = [m for m in ws.messages("#deploys") if "v1.2.0" in m.text]
                    return next((c for c in cards if card_state(c) == "succeeded"), None)

                await ws.wait_until(succeeded, timeout=120, description="v1.2.0 live on prod")
                prod = config["environments"]["prod"]
                ca_file = variables["SSL_CERT_FILE"]
                target = DrillTarget("prod", prod["urls"]["targets"], bot_url, TOKEN, ca_file)

                async def sandbox_alerting(url: str, token: str) -> None:
                    await admin(admin_url, "POST", "/admin/alerting", {"url": url, "token": token})

                async with drill_monitoring(
                    target, folder / "monitoring", sandbox_alerting, real=real
                ) as monitoring:
                    fault_at = time.monotonic()
                    await admin(
                        admin_url,
                        "POST",
                        "/admin/faults/version",
                        {"version": "v1.2.0", "error_rate": ERROR_RATE},
                    )

                    def incident() -> Message | None:
                        return next(
                            (
                                m
                                for m in ws.messages("#incidents")
                                if "Roll back to v1.1.0" in str(m.blocks)
                            ),
                            None,
                        )

                    card = await ws.wait_until(incident, timeout=TARGET_S, description="incident")
                    detected_at = time.monotonic()
                    await alice.click(card, "Roll back to v1.1.0", confirm=True)

                    def restored() -> Message | None:
                        thread = ws.thread(card.channel, card.ts)[1:]
                        return next((m for m in thread if "Traffic back on" in m.text), None)

                    await ws.wait_until(restored, timeout=TARGET_S, description="restored")
                    restored_at = time.monotonic()
                    public = prod["urls"]["public"]
                    if await served_versions(public, ca_file) != {"v1.1.0"}:
                        raise RuntimeError(
                            "the thread says restored, but prod does not serve v1.1.0"
                        )
                    return Round(monitoring.how, detected_at - fault_at, restored_at - detected_at)


def seconds(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"{statistics.median(values):.1f} s (median of {len(values)})"


def verdict(values: list[float]) -> bool:
    return max(values) < TARGET_S


async def main(mode: str, rounds: int) -> int:
    found = binaries() is not None
    if mode == "auto":
        mode = "both" if found else "sandbox"
    if mode in ("real", "both") and not found:
        print("drill_bench: --mode real needs prometheus and prometheus-alertmanager on PATH")
        return 2
    measured_real = mode in ("real", "both")
    measured = [await one_round(measured_real) for _ in range(rounds)]
    baseline = [await one_round(False) for _ in range(rounds)] if mode == "both" else []
    print(f"incident drill through deploybot serve, {rounds} round(s), prod v1.2.0 → 5xx × 50 %")
    print(f"alerts from: {measured[0].how}")
    if baseline:
        print(f"baseline:    {baseline[0].how}")
    elif not found:
        print("(no baseline: the sandbox's webhook is the only monitoring on this machine)")
    rows = []
    figures: list[tuple[str, Callable[[Round], float]]] = [
        ("fault → incident thread (MTTD)", attrgetter("mttd")),
        ("click → traffic restored (rollback)", attrgetter("rollback")),
    ]
    for name, pick in figures:
        ours = [pick(r) for r in measured]
        rows.append(
            Row(
                name,
                seconds(ours),
                seconds([pick(r) for r in baseline]) if baseline else "",
                f"< {TARGET_S:.0f} s",
                verdict(ours),
            )
        )
    rows.append(
        Row(
            "fault → traffic restored",
            seconds([r.total for r in measured]),
            seconds([r.total for r in baseline]) if baseline else "",
        )
    )
    print(render(rows))
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("auto", "real", "sandbox", "both"), default="auto")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.mode, max(1, args.rounds))))
