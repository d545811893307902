"""Monitoring for the incident drill: a real Prometheus scraping an environment's apps with
an alert rule on the 5xx rate and a real Alertmanager routing to the bot's
``/alerts/alertmanager`` (Debian's ``prometheus`` and ``prometheus-alertmanager``), or, where
those are not installed, the sandbox posting the same Alertmanager v4 webhooks itself
(``commands.platform.sandbox.alerting``). ``deploybot console``'s ``drill`` and
``benchmarks/drill_bench.py`` start it; it says which one it used.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.incidents.tied_process import tied_process

RULE = (
    'sum by (env) (rate(http_requests_total{code=~"5.."}[10s]))'
    " / sum by (env) (rate(http_requests_total[10s])) > 0.05"
)
SandboxAlerting = Callable[[str, str], Awaitable[None]]
"""Turn the sandbox's own webhook on: (the bot's /alerts/alertmanager URL, the token)."""


@dataclass(frozen=True)
class DrillTarget:
    environment: str
    targets: Mapping[str, str]
    """The environment's app URLs (``urls.targets`` of its configuration): what is scraped."""
    bot_url: str
    token: str
    ca_file: str | None = None


@dataclass(frozen=True)
class Monitoring:
    how: str
    """Which monitoring fires the alerts, in a sentence."""
    real: bool
    prometheus_url: str | None = None


def binaries() -> tuple[str, str] | None:
    prometheus = shutil.which("prometheus")
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    return (prometheus, alertmanager) if prometheus and alertmanager else None


@contextlib.asynccontextmanager
async def drill_monitoring(
    target: DrillTarget,
    folder: Path,
    sandbox_alerting: SandboxAlerting,
    *,
    real: bool | None = None,
) -> AsyncIterator[Monitoring]:
    """``real``: None = the binaries where present; True/False forces one (True fails
    without them)."""
    found = binaries()
    if real is None:
        real = found is not None
    alerts_url = f"{target.bot_url}/alerts/alertmanager"
    if not real:
        await sandbox_alerting(alerts_url, target.token)
        why = (
            "prometheus and prometheus-alertmanager are not installed"
            if found is None
            else "as asked, though Prometheus is installed"
        )
        yield Monitoring(f"the sandbox's own Alertmanager-shaped webhook ({why})", real=False)
        return
    if found is None:
        raise RuntimeError("the real drill needs prometheus and prometheus-alertmanager on PATH")
    prometheus, alertmanager = found
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    am_port, prom_port = _free_port(), _free_port()
    async with (
        tied_process(
            alertmanager,
            f"--config.file={_alertmanager_file(folder, alerts_url, target.token)}",
            f"--storage.path={folder / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            log=folder / "alertmanager.log",
        ),
        tied_process(
            prometheus,
            f"--config.file={_prometheus_file(folder, target, am_port)}",
            f"--storage.tsdb.path={folder / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            f"--web.external-url=http://127.0.0.1:{prom_port}",
            log=folder / "prometheus.log",
        ),
    ):
        await _until_up(f"http://127.0.0.1:{am_port}/-/ready", folder / "alertmanager.log")
        await _until_up(f"http://127.0.0.1:{prom_port}/-/ready", folder / "prometheus.log")
        versions = f"{await _version(prometheus)}, {await _version(alertmanager)}"
        yield Monitoring(
            f"a real Prometheus and Alertmanager ({versions})",
            real=True,
            prometheus_url=f"http://127.0.0.1:{prom_port}",
        )


def _prometheus_file(folder: Path, target: DrillTarget, alertmanager_port: int) -> Path:
    urls = list(target.targets.values())
    scheme = "https" if any(u.startswith("https") for u in urls) else "http"
    hosts = [u.split("://", 1)[1].rstrip("/") for u in urls]
    rule = {
        "alert": "Http5xxRateHigh",
        "expr": RULE,
        "labels": {"severity": "critical"},
        "annotations": {"summary": "5xx rate above 5% on {{ $labels.env }}"},
    }
    rules = folder / "rules.yml"
    rules.write_text(
        yaml.safe_dump({"groups": [{"name": "deploybot-drill", "interval": "1s", "rules": [rule]}]})
    )
    scrape: dict[str, Any] = {
        "job_name": "drill",
        "scheme": scheme,
        "static_configs": [{"targets": hosts, "labels": {"env": target.environment}}],
    }
    if scheme == "https" and target.ca_file:
        scrape["tls_config"] = {"ca_file": target.ca_file}
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": [scrape],
    }
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _alertmanager_file(folder: Path, alerts_url: str, token: str) -> Path:
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
                        "url": alerts_url,
                        "send_resolved": True,
                        "http_config": {"authorization": {"credentials": token}},
                    }
                ],
            }
        ],
    }
    path = folder / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def _until_up(url: str, log: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
    raise RuntimeError(f"{url} never answered:\n{tail}")


async def _version(binary: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    first = out.decode(errors="replace").splitlines()[:1]
    words = first[0].replace(",", "").split() if first else []
    # "prometheus, version 2.42.0+ds (branch: …)" → "prometheus 2.42.0+ds"
    if len(words) >= 3 and words[1] == "version":
        return f"{words[0]} {words[2]}"
    return Path(binary).name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
