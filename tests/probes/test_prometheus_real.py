"""The Prometheus source against a real Prometheus scraping the sandbox's apps under load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml
from azure.mgmt.trafficmanager.models import Endpoint

from commands.platform.base import MetricSeries
from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import sdk_clients
from commands.probes.prometheus import PrometheusReader
from tests.prometheus_server import (
    needs_prometheus,
    query,
    sandbox_targets,
    scrape_config,
    start_prometheus,
    until_result,
    until_scraped,
)

PROD_RG, TM = "rg-virtualqueue-prod", "virtualqueue-production-tm"


def _now() -> datetime:
    return datetime.now(UTC)


async def _read(
    reader: PrometheusReader, start: datetime, end: datetime
) -> dict[str, MetricSeries]:
    return {target: await reader.read(target, start, end) for target in ("blue", "green", "canary")}


@needs_prometheus
async def test_requests_errors_and_p95_track_a_version_fault(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    async with Sandbox.start(seed=5, load_rps=30) as sb, sdk_clients(sb) as azure:
        # production's front door sends half of everyone to blue (v1.1.0), half to green (v1.0.0)
        for name in ("blue", "green"):
            await azure.tm.endpoints.update(
                PROD_RG, TM, "AzureEndpoints", name, Endpoint(weight=50, endpoint_status="Enabled")
            )
        targets = sandbox_targets(sb, "prod")
        assert set(targets) == {"blue", "green", "canary"}
        async with start_prometheus(tmp_path, targets, scrape_interval="500ms") as url:
            reader = PrometheusReader(http, url)
            await until_scraped(url, targets, after=_now())  # Prometheus waits ~5 s to begin
            labels = {item["metric"]["target"] for item in await query(url, "up")}
            assert labels == set(targets)

            start = _now()
            # windows long enough that a loaded machine still sends each colour tens of requests
            await until_scraped(url, targets, after=start + timedelta(seconds=4))
            healthy = await _read(reader, start, _now())
            sb.faults.version("v1.0.0", error_rate=0.3, latency_ms=300)
            fault_at = _now()
            await until_scraped(url, targets, after=fault_at + timedelta(seconds=4))
            faulty = await _read(reader, fault_at, _now())
            sb.load.set_rate(0)

    # A starved machine sends fewer requests and adds its own delay to every one, so the
    # counts have a floor, not an expectation, and latency is judged against the other colour.
    for colour in ("blue", "green"):
        assert healthy[colour].requests > 5
        assert healthy[colour].errors == 0
        assert healthy[colour].latency_ms is not None
    assert healthy["canary"].requests == 0  # disabled: no share of the traffic
    assert healthy["canary"].latency_ms is None
    green, blue = faulty["green"], faulty["blue"]
    assert green.requests > 5 and blue.requests > 5
    assert green.error_rate is not None and 0.1 <= green.error_rate <= 0.6
    assert blue.errors == 0
    assert green.latency_ms is not None and blue.latency_ms is not None
    assert green.latency_ms >= 250  # the 300 ms fault, seen through the histogram buckets
    assert green.latency_ms - blue.latency_ms >= 200
    assert green.source == "prometheus" and green.latency_kind == "p95"


def test_the_generated_config_labels_each_target_with_its_name() -> None:
    config = scrape_config(
        {"blue": "http://127.0.0.1:4001", "canary": "http://127.0.0.1:4002"},
        "2s",
        ["rules-0.yml"],
        labels={"environment": "prod"},
        alertmanagers=["http://127.0.0.1:9093"],
    )
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "2s"
    assert config["scrape_configs"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:4001"], "labels": {"environment": "prod", "target": "blue"}},
        {"targets": ["127.0.0.1:4002"], "labels": {"environment": "prod", "target": "canary"}},
    ]
    assert config["rule_files"] == ["rules-0.yml"]
    manager = config["alerting"]["alertmanagers"][0]
    assert manager["static_configs"] == [{"targets": ["127.0.0.1:9093"]}]
    assert "alerting" not in scrape_config({})


@needs_prometheus
async def test_rule_files_are_loaded_and_evaluated(tmp_path: Path, http: httpx.AsyncClient) -> None:
    rules = tmp_path / "canary.yml"
    alert = {"alert": "CanaryDown", "expr": "vector(1)", "labels": {"severity": "page"}}
    rules.write_text(yaml.safe_dump({"groups": [{"name": "canary", "rules": [alert]}]}))
    async with start_prometheus(tmp_path, {}, rule_files=[rules]) as url:
        answer = (await http.get(f"{url}/api/v1/rules")).json()
        groups = answer["data"]["groups"]
        assert [g["name"] for g in groups] == ["canary"]
        assert groups[0]["rules"][0]["name"] == "CanaryDown"
        firing = await until_result(url, 'ALERTS{alertname="CanaryDown",alertstate="firing"}')
        assert firing[0]["metric"]["severity"] == "page"
