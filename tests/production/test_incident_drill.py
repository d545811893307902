"""The drill through `deploybot serve` as a process: monitoring watches the sandbox's apps
and alerts the bot's webhook, the incident thread offers [Roll back to v1.1.0], and the
click puts the old version back. Twice: with a real Prometheus and Alertmanager (Debian's
packages; skipped with the reason where absent), and with the sandbox's own
Alertmanager-shaped webhook (what runs where they are absent). ``benchmarks/drill_bench.py``
times it against the seeds' targets."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import httpx
import pytest

from bot.incidents.drill import DrillTarget, binaries, drill_monitoring

from .conftest import Production, production
from .fake_slack import Message
from .test_incidents import ALICE, TOKEN, deploy, fast_prod, incident_card, thread_text

needs_binaries = pytest.mark.skipif(
    binaries() is None,
    reason="needs Debian's prometheus and prometheus-alertmanager binaries "
    "(apt-get install -y prometheus prometheus-alertmanager; .ci/run installs them)",
)


async def traffic(url: str, ca_file: str, stop: asyncio.Event) -> None:
    """What users do: ask the public host for queues, all the time."""
    verify = ssl.create_default_context(cafile=ca_file)
    async with httpx.AsyncClient(timeout=5, verify=verify) as http:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await http.get(f"{url}/api/queues")
            await asyncio.sleep(0.02)


async def drill(prod: Production, tmp: Path, *, real: bool) -> str:
    slack, sandbox = prod.slack, prod.sandbox
    await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
    target = DrillTarget(
        "prod",
        sandbox.config["environments"]["prod"]["urls"]["targets"],
        prod.bot.url,
        TOKEN,
        sandbox.variables["SSL_CERT_FILE"],
    )

    async def sandbox_alerting(url: str, token: str) -> None:
        await sandbox.admin("POST", "/admin/alerting", {"url": url, "token": token})

    stop = asyncio.Event()
    load = asyncio.create_task(
        traffic(sandbox.public_url("prod"), sandbox.variables["SSL_CERT_FILE"], stop)
    )
    try:
        async with drill_monitoring(target, tmp, sandbox_alerting, real=real) as monitoring:
            await sandbox.admin(
                "POST", "/admin/faults/version", {"version": "v1.2.0", "error_rate": 0.5}
            )
            card: Message = await slack.wait_for(
                lambda: (
                    (c := incident_card(slack, "5xx rate above 5% on prod"))
                    and "Roll back to v1.1.0" in c.buttons()
                    and c
                ),
                timeout=120,
            )
            assert not load.done(), load.exception()  # the users' traffic keeps going
            assert await slack.click(ALICE, card, "Roll back to v1.1.0") == 200
            await slack.wait_for(
                lambda: "Traffic back on v1.1.0" in thread_text(slack, card), timeout=120
            )
            assert await sandbox.served_versions("prod") == {"v1.1.0"}
            return monitoring.how
    finally:
        stop.set()
        await load


@needs_binaries
async def test_drill_prometheus_alertmanager_to_rollback(tmp_path: Path) -> None:
    async with production(tmp_path, tune=fast_prod, env={"DEPLOYBOT_ALERT_TOKEN": TOKEN}) as prod:
        how = await drill(prod, tmp_path / "drill", real=True)
    assert how.startswith("a real Prometheus and Alertmanager (prometheus ")


async def test_drill_with_the_sandbox_webhook_to_rollback(tmp_path: Path) -> None:
    async with production(tmp_path, tune=fast_prod, env={"DEPLOYBOT_ALERT_TOKEN": TOKEN}) as prod:
        how = await drill(prod, tmp_path / "drill", real=False)
        state = await prod.sandbox.admin("GET", "/admin/alerting")
    assert how.startswith("the sandbox's own Alertmanager-shaped webhook")
    assert state["alerting"]["sent"] >= 1 and state["alerting"]["last_error"] is None
