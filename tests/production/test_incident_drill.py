"""The drill: a real Prometheus scrapes the sandbox's apps and fires on the 5xx rate, a real
Alertmanager routes the alert to `deploybot serve`'s webhook, the incident thread offers
[Roll back to v1.1.0], and the click puts the old version back. Times are printed next to
the seeds' targets (MTTD < 5 min, rollback < 5 min)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .conftest import Production, free_port, production
from .fake_slack import Message
from .test_incidents import ALICE, TOKEN, deploy, fast_prod, incident_card, thread_text

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or ALERTMANAGER is None,
    reason="needs Debian's prometheus and prometheus-alertmanager binaries "
    "(apt-get install -y prometheus prometheus-alertmanager; .ci/run installs them)",
)
TARGET_S = 300.0
RULE = (
    'sum by (env) (rate(http_requests_total{code=~"5.."}[10s]))'
    " / sum by (env) (rate(http_requests_total[10s])) > 0.05"
)


@contextlib.asynccontextmanager
async def process(*args: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(*args, stdout=out, stderr=out)
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                await asyncio.wait_for(proc.wait(), 30)


async def until_up(url: str, log: Path, timeout: float = 60) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered:\n{tail(log)}")


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


def prometheus_files(tmp: Path, prod: Production, alertmanager_port: int) -> Path:
    targets = prod.sandbox.config["environments"]["prod"]["urls"]["targets"]
    scheme = "https" if any(u.startswith("https") for u in targets.values()) else "http"
    hosts = [u.split("://", 1)[1].rstrip("/") for u in targets.values()]
    (tmp / "rules.yml").write_text(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "deploybot-drill",
                        "interval": "1s",
                        "rules": [
                            {
                                "alert": "Http5xxRateHigh",
                                "expr": RULE,
                                "labels": {"severity": "critical"},
                                "annotations": {
                                    "summary": "5xx rate above 5% on {{ $labels.env }}",
                                },
                            }
                        ],
                    }
                ]
            }
        )
    )
    scrape: dict[str, Any] = {
        "job_name": "virtualqueue",
        "scheme": scheme,
        "static_configs": [{"targets": hosts, "labels": {"env": "prod"}}],
    }
    if scheme == "https":
        scrape["tls_config"] = {"ca_file": prod.sandbox.variables["SSL_CERT_FILE"]}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp / "rules.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": [scrape],
    }
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def alertmanager_file(tmp: Path, bot_url: str) -> Path:
    config = {
        "route": {
            "receiver": "deploybot",
            "group_by": ["alertname", "env"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "deploybot",
                "webhook_configs": [
                    {
                        "url": f"{bot_url}/alerts/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials": TOKEN}},
                    }
                ],
            }
        ],
    }
    path = tmp / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def traffic(url: str, ca_file: str, stop: asyncio.Event) -> None:
    """What users do: ask the public host for queues, all the time."""
    verify = ssl.create_default_context(cafile=ca_file)
    async with httpx.AsyncClient(timeout=5, verify=verify) as http:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                await http.get(f"{url}/api/queues")
            await asyncio.sleep(0.02)


async def test_drill_prometheus_alertmanager_to_rollback(tmp_path: Path) -> None:
    assert PROMETHEUS is not None and ALERTMANAGER is not None
    tmp = tmp_path / "drill"
    tmp.mkdir()
    async with production(tmp_path, tune=fast_prod, env={"DEPLOYBOT_ALERT_TOKEN": TOKEN}) as prod:
        slack, sandbox = prod.slack, prod.sandbox
        await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
        am_port, prom_port = free_port(), free_port()
        stop = asyncio.Event()
        load = asyncio.create_task(
            traffic(sandbox.public_url("prod"), sandbox.variables["SSL_CERT_FILE"], stop)
        )
        async with (
            process(
                ALERTMANAGER,
                f"--config.file={alertmanager_file(tmp, prod.bot.url)}",
                f"--storage.path={tmp / 'am'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                log=tmp / "alertmanager.log",
            ),
            process(
                PROMETHEUS,
                f"--config.file={prometheus_files(tmp, prod, am_port)}",
                f"--storage.tsdb.path={tmp / 'prom'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                log=tmp / "prometheus.log",
            ),
        ):
            try:
                await until_up(f"http://127.0.0.1:{am_port}/-/ready", tmp / "alertmanager.log")
                await until_up(f"http://127.0.0.1:{prom_port}/-/ready", tmp / "prometheus.log")
                fault_at = time.monotonic()
                await sandbox.admin(
                    "POST", "/admin/faults/version", {"version": "v1.2.0", "error_rate": 0.5}
                )
                await asyncio.sleep(0.5)
                assert not load.done(), load.exception()  # the users' traffic keeps going
                card: Message = await slack.wait_for(
                    lambda: (
                        (c := incident_card(slack, "5xx rate above 5% on prod"))
                        and "Roll back to v1.1.0" in c.buttons()
                        and c
                    ),
                    timeout=TARGET_S,
                )
                detected_at = time.monotonic()
                assert await slack.click(ALICE, card, "Roll back to v1.1.0") == 200
                await slack.wait_for(
                    lambda: "Traffic back on v1.1.0" in thread_text(slack, card), timeout=TARGET_S
                )
                restored_at = time.monotonic()
                assert await sandbox.served_versions("prod") == {"v1.1.0"}
            finally:
                stop.set()
                await load
    mttd, rollback = detected_at - fault_at, restored_at - detected_at
    print(
        f"\ndrill: fault → incident thread {mttd:.1f} s (target < {TARGET_S:.0f} s); "
        f"click → traffic restored {rollback:.1f} s (target < {TARGET_S:.0f} s); "
        f"fault → restored {restored_at - fault_at:.1f} s"
    )
    assert mttd < TARGET_S and rollback < TARGET_S
