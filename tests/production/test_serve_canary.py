"""Canary deployments through `deploybot serve` (a process) on the sandbox, both topologies.

The test keeps real traffic flowing through the public host, as users would; the bot judges
the canary against the live baseline from each target's /metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .canary_helpers import (
    BOB,
    canaries,
    canary,
    fired_rule,
    in_thread,
    traffic,
    until_stage_stored,
    weights_seen,
)
from .conftest import Production, production
from .test_serve_restart import ALICE, outcome, restarted


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, tune=canaries) as prod:
        yield prod


async def test_a_healthy_canary_on_traffic_manager_is_promoted_stage_by_stage(
    running: Production,
) -> None:
    prod, sandbox = running, running.sandbox
    done = asyncio.Event()
    async with traffic(sandbox, "prod"):
        watcher = asyncio.create_task(weights_seen(sandbox, done))
        card = await canary(prod, "prod", "v2.0.0")
        await prod.slack.wait_for(lambda: outcome(card), timeout=90)
        done.set()
        seen = await watcher
    thread = " ".join(m.text for m in prod.slack.thread(card))
    assert outcome(card) == "Succeeded", (card.plain(), thread)
    enabled = [{n: w for n, (status, w) in s.items() if status == "Enabled"} for s in seen]
    shares = [round(100 * e.get("green", 0) / sum(e.values())) for e in enabled if sum(e.values())]
    # 0 % (blue only) → 20 % → 50 % → 100 %, each set in turn (one PATCH at a time, so a
    # moment between two stages may show a mixed weight).
    stages = [s for s in shares if s in (0, 20, 50, 100)]
    assert [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]] == [0, 20, 50, 100]
    assert await sandbox.served_versions("prod") == {"v2.0.0"}
    thread = " ".join(m.text for m in prod.slack.thread(card))
    assert "Stage 1 of 3 started: 20 %" in thread and "Stage 2 of 3 started: 50 %" in thread
    # One chart per stage, shared in the thread with the stage's summary.
    await prod.slack.wait_for(lambda: len(prod.slack.files_in(card)) == 2)
    charts = prod.slack.files_in(card)
    assert all((f.content or b"").startswith(b"\x89PNG") for f in charts), charts
    assert "stage 2 · 50 % canary" in charts[1].title, charts[1].title
    code, out = await prod.audit_verify()
    assert code == 0, out


async def test_an_error_rate_breach_takes_the_canary_out_and_names_the_rule(
    running: Production,
) -> None:
    prod, sandbox = running, running.sandbox
    async with traffic(sandbox, "prod"):
        card = await canary(prod, "prod", "v2.0.0")
        # Healthy through the health gate; errors once real users reach it.
        await prod.slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 3 started"))
        fault = {"version": "v2.0.0", "error_rate": 0.3}
        await sandbox.admin("POST", "/admin/faults/version", fault)
        await prod.slack.wait_for(lambda: outcome(card), timeout=90)
    assert outcome(card) == "Rolled back", card.text
    # The judge took it out, before promotion, naming the rule and its values.
    rule = fired_rule(card) or ""
    assert rule.startswith("canary error rate") and "> 5 % for 2 intervals" in rule, card.plain()
    assert "Promote green to 100 % — not run" in card.plain(), card.plain()
    assert await sandbox.served_versions("prod") == {"v1.1.0"}
    assert await sandbox.enabled_endpoints() == {"blue"}


async def test_a_healthy_canary_on_slots_is_routed_by_ramp_up_and_promoted_by_a_swap(
    running: Production,
) -> None:
    prod, sandbox = running, running.sandbox
    async with traffic(sandbox, "dev"):
        card = await canary(prod, "dev", "v2.0.0")
        await prod.slack.wait_for(lambda: outcome(card), timeout=90)
    thread = " | ".join(m.text for m in prod.slack.thread(card))
    assert outcome(card) == "Succeeded", (card.plain(), thread)
    assert await sandbox.served_versions("dev") == {"v2.0.0"}
    thread = " ".join(m.text for m in prod.slack.thread(card))
    assert "Stage 2 of 3 started: 50 %" in thread, thread


async def test_pause_resume_and_a_promote_only_an_approver_may_give(running: Production) -> None:
    prod, sandbox, slack = running, running.sandbox, running.slack
    async with traffic(sandbox, "prod"):
        card = await canary(prod, "prod", "v2.0.0")
        await slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 3 started"))
        assert await slack.click(ALICE, card, "Pause") == 200
        await slack.wait_for(lambda: "Paused" in card.text)
        await asyncio.sleep(5)  # longer than the stage's hold: a paused stage does not end
        assert "Paused" in card.text and "Stage 2" not in " ".join(
            m.text for m in slack.thread(card)
        )
        assert await slack.click(ALICE, card, "Promote") == 200
        await slack.wait_for(lambda: slack.ephemeral_to(ALICE, "only an approver"))
        assert await slack.click(ALICE, card, "Resume") == 200
        await slack.wait_for(lambda: "Running" in card.text)
        assert await slack.click(BOB, card, "Promote") == 200
        await slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Succeeded", card.text
    thread = " ".join(m.text for m in slack.thread(card))
    assert "promoted the canary" in thread and "Stage 2 of 3" not in thread, thread
    assert await sandbox.served_versions("prod") == {"v2.0.0"}


async def test_abort_from_the_card_puts_traffic_back(running: Production) -> None:
    prod, sandbox, slack = running, running.sandbox, running.slack
    async with traffic(sandbox, "dev"):
        card = await canary(prod, "dev", "v2.0.0")
        await slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 3 started"))
        assert await slack.click(BOB, card, "Abort") == 200
        await slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Rolled back", card.text
    assert await sandbox.served_versions("dev") == {"v1.1.0"}


async def test_a_kill_mid_stage_resumes_the_stage_with_the_time_it_has_left(
    running: Production,
) -> None:
    prod, sandbox, slack = running, running.sandbox, running.slack
    async with traffic(sandbox, "prod"):
        card = await canary(prod, "prod", "v2.0.0")
        await until_stage_stored(prod, 2)
        prod.bot.kill()
        await prod.bot.stop()
        await restarted(prod)
        await slack.wait_for(lambda: outcome(card), timeout=90)
    assert outcome(card) == "Succeeded", card.text
    thread = " ".join(m.text for m in slack.thread(card))
    assert "Stage 2 of 3 resumed with 50 %" in thread, thread
    assert "The analysis carries on:" in thread, thread  # the judge's memory was kept
    assert await sandbox.served_versions("prod") == {"v2.0.0"}
    code, out = await prod.audit_verify()
    assert code == 0, out
