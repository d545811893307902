"""A canary through `deploybot serve` judged from each metric source other than the scrape:
the Prometheus HTTP API of a real Prometheus scraping the sandbox's apps, and Azure Monitor
(azure-mgmt-monitor against the sandbox's Microsoft.Insights metrics).

Each canary passes its first stage on healthy figures, then the new version starts failing
at the second stage and the judge takes it out, naming the error-rate rule: both directions
need the source's numbers to be right.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.prometheus_server import needs_prometheus, start_prometheus, until_scraped

from .conftest import Production, free_port, production
from .test_serve_canary import canaries, canary, in_thread, traffic
from .test_serve_restart import outcome

STAGES = [{"percent": 25, "hold": "10s"}, {"percent": 50, "hold": "30s"}, {"percent": 100}]


def judged_from(metrics: dict[str, Any], interval: str) -> Callable[[dict[str, Any]], None]:
    def tune(config: dict[str, Any]) -> None:
        canaries(config)
        for env in config["environments"].values():
            env["canary"].update(stages=STAGES, interval=interval, metrics=metrics)

    return tune


def audited(database: Path, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT details FROM audit_events WHERE action = ?", (action,))
        return [json.loads(details) for (details,) in rows]


async def breached_at_the_second_stage(prod: Production, latency: str, env: str = "prod") -> str:
    """Runs the canary; returns its thread's text."""
    sandbox, slack = prod.sandbox, prod.slack
    async with traffic(sandbox, env):
        card = await canary(prod, env, "v2.0.0")
        await slack.wait_for(lambda: in_thread(prod, card, "Stage 2 of 3 started"), timeout=90)
        thread = " | ".join(m.text for m in slack.thread(card))
        assert "Stage 1 (25 %) passed" in thread, (card.plain(), thread)
        assert latency in thread, thread
        await sandbox.admin(
            "POST", "/admin/faults/version", {"version": "v2.0.0", "error_rate": 0.4}
        )
        await slack.wait_for(lambda: outcome(card), timeout=90)
    thread = " | ".join(m.text for m in slack.thread(card))
    assert outcome(card) == "Rolled back", (card.plain(), thread)
    assert "error rate" in card.plain(), card.plain()
    assert await sandbox.served_versions(env) == {"v1.1.0"}
    if env == "prod":
        assert await sandbox.enabled_endpoints() == {"blue"}
    return thread


@needs_prometheus
async def test_a_canary_judged_by_a_real_prometheus(tmp_path: Path) -> None:
    port = free_port()
    source = {"source": "prometheus", "url": f"http://127.0.0.1:{port}"}
    async with production(tmp_path, tune=judged_from(source, "2s")) as prod:
        targets = dict(prod.sandbox.config["environments"]["prod"]["urls"]["targets"])
        async with start_prometheus(tmp_path, targets, "500ms", port=port) as url:
            await until_scraped(url, targets, after=datetime.now(UTC))
            await breached_at_the_second_stage(prod, "p95 latency")
        assert audited(prod.database, "metrics.unavailable") == []


async def test_a_canary_judged_by_azure_monitor(tmp_path: Path) -> None:
    source = {"source": "azure-monitor"}
    async with production(tmp_path, tune=judged_from(source, "1s")) as prod:
        await breached_at_the_second_stage(prod, "average latency")
        assert audited(prod.database, "metrics.unavailable") == []
        calls = await prod.sandbox.admin("GET", "/admin/arm-requests?limit=1000")
    paths = [str(c["path"]) for c in calls if c["path"].endswith("Microsoft.Insights/metrics")]
    assert any("/sites/virtualqueue-production-green/" in p for p in paths), paths[-3:]
    assert any("/sites/virtualqueue-production-blue/" in p for p in paths), paths[-3:]


async def test_a_canary_on_slots_judged_by_azure_monitor(tmp_path: Path) -> None:
    """The slot's own metrics (…/sites/APP/slots/green) against production's."""
    source = {"source": "azure-monitor"}
    async with production(tmp_path, tune=judged_from(source, "1s")) as prod:
        await breached_at_the_second_stage(prod, "average latency", env="dev")
        assert audited(prod.database, "metrics.unavailable") == []
        calls = await prod.sandbox.admin("GET", "/admin/arm-requests?limit=1000")
    paths = [str(c["path"]) for c in calls if c["path"].endswith("Microsoft.Insights/metrics")]
    assert any("/sites/virtualqueue-dev/slots/green/" in p for p in paths), paths[-3:]
    assert any("/sites/virtualqueue-dev/providers/" in p for p in paths), paths[-3:]
