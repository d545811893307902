"""A real Prometheus server for tests: Debian's ``prometheus`` binary on an ephemeral port.

    async with start_prometheus(tmp_path, sandbox_targets(sb, "prod")) as url:
        await until_scraped(url, ["blue", "green"], after=datetime.now(UTC))
        ... PrometheusReader(http, url).read("green", start, end) ...
        await until_result(url, 'ALERTS{alertname="CanaryErrors",alertstate="firing"}')

Prometheus loads its targets about 5 s after it is ready (its scrape manager reloads on a 5 s
tick), so the first ``until_scraped`` takes that long; start the load before, not after.

Every target is scraped at its ``/metrics`` with a ``target`` label (the bot's target name,
``production``/``green`` or ``blue``/``green``/``canary``), plus any common ``labels``.
``rule_files`` are copied in and evaluated every ``scrape_interval``; ``alertmanagers`` (URLs)
receive the alerts they fire. ``--web.enable-lifecycle`` is on, so ``POST {url}/-/reload``
re-reads the files. Tests that need the server skip with ``needs_prometheus`` where the binary
is absent; CI installs it (``.ci/run``), so there they run.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.ports import free_port

BINARY = shutil.which("prometheus")
needs_prometheus = pytest.mark.skipif(
    BINARY is None,
    reason="the prometheus binary is not installed (apt-get install -y prometheus; CI does)",
)
READY_TIMEOUT_S = 30.0


def sandbox_targets(sandbox: Any, environment: str) -> dict[str, str]:
    """The bot's target names of one environment and their app URLs, from the sandbox config."""
    return dict(sandbox.config_mapping()["environments"][environment]["urls"]["targets"])


def scrape_config(
    targets: Mapping[str, str],
    scrape_interval: str = "1s",
    rule_files: Iterable[str] = (),
    *,
    labels: Mapping[str, str] | None = None,
    alertmanagers: Iterable[str] = (),
) -> dict[str, Any]:
    """prometheus.yml: one static target per entry, labelled ``target=<name>``."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": "sandbox",
                "metrics_path": "/metrics",
                "static_configs": [
                    {
                        "targets": [urlsplit(url).netloc],
                        "labels": {**(labels or {}), "target": name},
                    }
                    for name, url in targets.items()
                ],
            }
        ],
    }
    rules = list(rule_files)
    if rules:
        config["rule_files"] = rules
    managers = [urlsplit(url) for url in alertmanagers]
    if managers:
        config["alerting"] = {
            "alertmanagers": [
                {
                    "scheme": split.scheme or "http",
                    "path_prefix": split.path or "/",
                    "static_configs": [{"targets": [split.netloc]}],
                }
                for split in managers
            ]
        }
    return config


@contextlib.asynccontextmanager
async def start_prometheus(
    tmp_path: Path,
    targets: Mapping[str, str],
    scrape_interval: str = "1s",
    rule_files: Iterable[Path | str] = (),
    *,
    labels: Mapping[str, str] | None = None,
    alertmanagers: Iterable[str] = (),
    port: int | None = None,
) -> AsyncIterator[str]:
    """Run Prometheus for the block; yields its base URL (``http://127.0.0.1:PORT``).

    ``port``: listen there (a process configured before Prometheus starts knows its URL);
    otherwise a free port is picked."""
    if BINARY is None:
        pytest.skip("the prometheus binary is not installed (apt-get install -y prometheus)")
    folder = tmp_path / "prometheus"
    folder.mkdir(parents=True, exist_ok=True)
    rules = []
    for index, rule_file in enumerate(rule_files):
        copy = folder / f"rules-{index}.yml"
        shutil.copyfile(rule_file, copy)
        rules.append(copy.name)
    config = folder / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            scrape_config(
                targets, scrape_interval, rules, labels=labels, alertmanagers=alertmanagers
            ),
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    log_file = folder / "prometheus.log"
    attempts = 1 if port is not None else 3
    for attempt in range(attempts):  # a port picked free can be taken before Prometheus binds it
        listen = port if port is not None else free_port()
        url = f"http://127.0.0.1:{listen}"
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                BINARY,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{listen}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--web.enable-lifecycle",
                "--log.level=warn",
                cwd=folder,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            if await _until_ready(url, process):
                yield url
                return
            if attempt == attempts - 1 or "address already in use" not in _tail(log_file):
                raise RuntimeError(f"prometheus did not start:\n{_tail(log_file)}")
        finally:
            await _stop(process)


async def _until_ready(url: str, process: asyncio.subprocess.Process) -> bool:
    """True once ``/-/ready`` answers 200; False if the process exits first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    async with httpx.AsyncClient(timeout=2.0) as http:
        while loop.time() < deadline:
            if process.returncode is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{url}/-/ready")).status_code == 200:
                    return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.05)
    raise TimeoutError(f"prometheus on {url} was not ready within {READY_TIMEOUT_S:g} s")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def _tail(log_file: Path, lines: int = 20) -> str:
    text = log_file.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


async def query(url: str, promql: str, at: datetime | None = None) -> list[dict[str, Any]]:
    """An instant query's result vector (``/api/v1/query``)."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at.timestamp():.3f}"
    async with httpx.AsyncClient(timeout=5.0) as http:
        body = (await http.get(f"{url}/api/v1/query", params=params)).json()
    if body.get("status") != "success":
        raise AssertionError(f"{promql}: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def until_result(url: str, promql: str, timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """Wait until an instant query returns something (e.g. ``ALERTS{alertstate="firing"}``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not (result := await query(url, promql)):
        if loop.time() > deadline:
            raise TimeoutError(f"{promql} returned nothing within {timeout_s:g} s")
        await asyncio.sleep(0.1)  # an outside process: its progress can only be polled
    return result


async def until_scraped(
    url: str,
    targets: Iterable[str],
    *,
    after: datetime,
    timeout_s: float = 15.0,
) -> None:
    """Wait until Prometheus holds a scrape of each target taken at or after ``after``."""
    wanted = set(targets)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        up = {item["metric"].get("target"): item["value"][1] for item in await query(url, "up")}
        latest = {
            item["metric"].get("target"): float(item["value"][1])
            for item in await query(url, "timestamp(up)")
        }
        if all(
            up.get(name) == "1" and latest.get(name, 0.0) >= after.timestamp() for name in wanted
        ):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"no scrape of {sorted(wanted)} after {after} (have {latest})")
        await asyncio.sleep(0.1)  # an outside process: its progress can only be polled
