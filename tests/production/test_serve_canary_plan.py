"""A canary's --dry-run through `deploybot serve`: the plan a person reads in Slack, its metric
queries run against a real Prometheus, and nothing changed in Azure nor in the database."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.prometheus_server import needs_prometheus, start_prometheus, until_scraped

from .conftest import Production, free_port, production
from .test_serve_canary import traffic
from .test_serve_restart import ALICE


def rows(database: Path, table: str) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def writes_since(prod: Production, mark: str) -> list[dict[str, Any]]:
    """ARM requests after ``mark`` that change something (a POST to …/list is a read)."""
    log = await prod.sandbox.admin("GET", "/admin/arm-requests?limit=1000")
    return [
        r
        for r in log
        if r["at"] > mark and r["method"] != "GET" and not r["path"].endswith("/list")
    ]


async def answer_to(prod: Production, line: str) -> str:
    slack = prod.slack
    before = len(slack.responses)
    assert await slack.command(ALICE, line) == 200
    await slack.wait_for(
        lambda: any("Dry run" in str(r.get("text")) for r in slack.responses[before:]), timeout=60
    )
    found = next(r for r in slack.responses[before:] if "Dry run" in str(r.get("text")))
    assert all(len(b["text"]["text"]) <= 3000 for b in found["blocks"]), found
    return str(found["text"])


@needs_prometheus
async def test_a_canary_dry_run_runs_its_promql_and_changes_nothing(tmp_path: Path) -> None:
    port = free_port()

    def prometheus_source(config: dict[str, Any]) -> None:
        prod_env = config["environments"]["prod"]
        prod_env["canary"] = {
            "interval": "5s",
            "metrics": {"source": "prometheus", "url": f"http://127.0.0.1:{port}"},
        }
        # A team's own query with a typo: Prometheus refuses it, the plan must say so.
        config["environments"]["staging"]["canary"] = {
            "metrics": {
                "source": "prometheus",
                "url": f"http://127.0.0.1:{port}",
                "queries": {"p95_ms": "histogram_quantile(0.95, "},
            }
        }

    async with production(tmp_path, tune=prometheus_source) as prod:
        sandbox = prod.sandbox
        targets = dict(sandbox.config["environments"]["prod"]["urls"]["targets"])
        async with (
            start_prometheus(tmp_path, targets, "500ms", port=port) as url,
            traffic(sandbox, "prod", rps=40),
        ):
            await until_scraped(url, targets, after=datetime.now(UTC))
            await asyncio.sleep(5)  # a whole interval of users for the queries' window
            weights = await sandbox.traffic_manager()
            mark = datetime.now(UTC).isoformat()
            text = await answer_to(prod, "/canary prod v1.3.0 --dry-run")
            same = await answer_to(prod, "/deploy prod v1.3.0 canary --dry-run")
            chosen = await answer_to(prod, "/canary prod v1.3.0 --stages 10,100 --dry-run")
            typo = await answer_to(prod, "/canary staging v1.3.0 --dry-run")
            assert await writes_since(prod, mark) == []
            assert await sandbox.traffic_manager() == weights
        assert rows(prod.database, "locks") == 0
        assert rows(prod.database, "deployments") == 0
        code, out = await prod.audit_verify()
        assert code == 0, out

    assert "Dry run: canary of `v1.3.0` to prod" in text
    assert "1. 5 % for 10m00s: green 50 · blue 950; canary disabled" in text
    assert "4. 100 %: green 1000, blue disabled" in text
    assert "the Prometheus HTTP API (PromQL)" in text
    promql = 'sum(increase(http_requests_total{target="blue"}[5s]))'
    baseline = next(line for line in text.splitlines() if promql in line)
    assert baseline.startswith("✓ blue (baseline)") and "returns" in baseline, baseline
    p95 = next(
        line for line in text.splitlines() if "histogram_quantile" in line and "blue" in line
    )
    assert p95.startswith("✓"), p95
    assert "✗" not in text, text
    assert "at most 1m10s = 5.0s × 2 consecutive failing intervals" in text
    assert "1m00s DNS TTL" in text
    assert "Dry run: canary of `v1.3.0` to prod" in same
    assert "3. 50 % for 30m00s: green 500 · blue 500; canary disabled" in same
    assert "1. 10 % for 30m00s: green 100 · blue 900; canary disabled" in chosen
    assert "2. 100 %: green 1000, blue disabled" in chosen
    broken = next(line for line in typo.splitlines() if "histogram_quantile(0.95, " in line)
    assert broken.startswith("✗ green (canary)") and "bad_data" in broken, broken
    assert "✗ production (baseline)" in typo  # Prometheus does not scrape staging
