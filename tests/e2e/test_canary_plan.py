"""`/canary … --dry-run`: stages, routing, durations, metric pre-checks, breach timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.local import LocalStack, local_stack

from .conftest import fast

ALICE = "U0ALICE"


def canaries(mapping: dict[str, Any]) -> dict[str, Any]:
    fast(mapping)
    envs = mapping["environments"]
    envs["dev"]["canary"] = {
        "stages": [{"percent": 10, "hold": "1m"}, {"percent": 40, "hold": "2m"}, {"percent": 100}],
        "interval": "15s",
        "max_extensions": 1,
        "metrics": {"source": "scrape"},
    }
    # Nothing listens on port 9: the pre-check must say so.
    envs["staging"]["canary"] = {"metrics": {"source": "prometheus", "url": "http://127.0.0.1:9"}}
    return mapping


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[LocalStack]:
    async with local_stack(
        overrides=canaries,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}",
        publisher_interval=0.05,
        load_rps=20,
    ) as s:
        await asyncio.sleep(1.5)  # a little traffic on every front door, as in production
        yield s


async def dry_run(stack: LocalStack, command: str, text: str) -> str:
    mark = len(stack.ws.changes)
    await stack.emu.user(ALICE).command(command, text, channel="#deploys")
    answer = await stack.ws.wait_for_ephemeral(ALICE, "Dry run", since=mark, timeout=30)
    return answer.text


async def changes_nothing(stack: LocalStack, command: str, text: str) -> str:
    """The dry run's answer, checking that Azure, the locks and the deployments stayed put."""
    platform = stack.services.runner.tools.platform
    env = stack.settings.config.environments[text.split()[0]]
    before = await platform.read_state(env)
    requests = len(stack.sandbox.arm_requests)
    answer = await dry_run(stack, command, text)
    await stack.services.idle()
    writes = [  # ARM lists app settings with a POST to …/list: a read
        r
        for r in stack.sandbox.arm_requests[requests:]
        if r.method != "GET" and not r.path.endswith("/list")
    ]
    assert writes == [], writes
    assert await platform.read_state(env) == before
    assert await stack.services.store.locks.get(env.name) is None
    assert await stack.services.store.deployments.latest(env.name, limit=1) == []
    return answer


async def test_a_canary_dry_run_on_traffic_manager_says_everything_and_changes_nothing(
    stack: LocalStack,
) -> None:
    text = await changes_nothing(stack, "/canary", "prod v1.3.0 --dry-run")
    assert "Dry run: canary of `v1.3.0` to prod" in text
    # the reference stages, with the weights Traffic Manager will be given at each
    assert "1. 5 % for 10m00s: green 50 · blue 950; canary disabled" in text
    assert "2. 25 % for 20m00s: green 250 · blue 750; canary disabled" in text
    assert "3. 50 % for 30m00s: green 500 · blue 500; canary disabled" in text
    assert "4. 100 %: green 1000, blue disabled (the blue-green switch)" in text
    assert "judged every 30s" in text and "up to 3 times" in text
    assert "Analysis 1h00m in all, at most 4h00m with every extension" in text
    # Azure Monitor, run now: the baseline has traffic, the idle colour none yet
    assert "Azure Monitor (App Service metrics)" in text
    assert "virtualqueue-production-blue/providers/Microsoft.Insights/metrics" in text
    assert "✓ blue (baseline)" in text and "in the last 5 min" in text
    assert "✓ green (canary)" in text
    assert "✗" not in text, text
    # 30 s × 2 consecutive failures + the switch + the profile's 60 s TTL
    assert "*Breach → traffic back on blue:* at most 2m00s = 30s × 2" in text
    assert "1m00s DNS TTL" in text
    [row] = await stack.services.store.audit.query(actions=["deploy.dry_run"])
    assert row.details["ok"] is True


async def test_deploy_canary_dry_run_on_slots_with_a_scrape_and_chosen_stages(
    stack: LocalStack,
) -> None:
    text = await changes_nothing(stack, "/deploy", "dev v1.3.0 canary --dry-run")
    assert "1. 10 % for 1m00s: rampUpRules on production: green reroutePercentage 10" in text
    assert "2. 40 % for 2m00s: rampUpRules on production: green reroutePercentage 40" in text
    assert "3. 100 %: clear the rampUpRules entry, then swap green into production" in text
    assert "up to 1 time," in text and "at most 6m00s with every extension" in text
    assert "/metrics: http_requests_total, http_request_duration_seconds_bucket" in text
    assert "✓ production (baseline)" in text and "requests counted" in text
    assert "at most 30s = 15s × 2" in text and "no DNS wait" in text
    chosen = await changes_nothing(stack, "/canary", "dev v1.3.0 --stages 20,100 --dry-run")
    assert "1. 20 % for 2m00s" in chosen  # a stage not configured holds the longest hold
    assert "2. 100 %: clear the rampUpRules entry" in chosen


async def test_an_unreachable_prometheus_fails_the_pre_check_with_the_query(
    stack: LocalStack,
) -> None:
    text = await changes_nothing(stack, "/canary", "staging v1.3.0 --dry-run")
    assert "the Prometheus HTTP API (PromQL)" in text
    assert '✗ production (baseline): `sum(increase(http_requests_total{target="production"}' in text
    assert "ConnectError" in text
    [row] = await stack.services.store.audit.query(actions=["deploy.dry_run"])
    assert row.details["ok"] is False


async def test_a_baseline_without_traffic_fails_the_pre_check(tmp_path: Path) -> None:
    async with local_stack(
        overrides=fast, database_url=f"sqlite+aiosqlite:///{tmp_path / 'quiet.db'}"
    ) as quiet:  # no synthetic load: nobody uses production
        text = await changes_nothing(quiet, "/canary", "prod v1.3.0 --dry-run")
        assert "✗ blue (baseline):" in text
        assert "no requests in the last 5 min: the judge would have nothing to compare" in text
        bare = await dry_run(quiet, "/deploy", "prod v1.3.0 --dry-run")
        slot = await changes_nothing(quiet, "/canary", "dev v1.3.0 --dry-run")
    assert "Canary stages" not in bare  # a blue-green dry run has no canary part
    # Azure Monitor on slots: the slot's own resource, and the site's for production
    assert "/sites/virtualqueue-dev/slots/green/providers/Microsoft.Insights/metrics" in slot
    assert "/sites/virtualqueue-dev/providers/Microsoft.Insights/metrics" in slot
    assert "✗ production (baseline):" in slot
