"""The canary judge's other answers, through `deploybot serve` (a process) on the sandbox.

Each breach is a fault the sandbox puts on the new version while users are on the public host;
the judge must take the canary out and the card must name the rule that fired. No users at all
is no data, which extends the stage and then asks; a dependency down on canary and baseline
alike is an outage, which pauses instead of blaming the new version.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .canary_helpers import (
    BOB,
    canaries,
    canary,
    canary_lines,
    fired_rule,
    in_thread,
    thread_text,
    traffic,
)
from .conftest import Production, production
from .test_serve_restart import ALICE, outcome

HOLD = "3s"


def quick_canaries(config: dict[str, Any]) -> None:
    """The canary tests' settings with 3 s stages and one extension, so that no data pauses
    within seconds."""
    canaries(config)
    for env in config["environments"].values():
        env["canary"]["stages"] = [
            {"percent": 20, "hold": HOLD},
            {"percent": 50, "hold": HOLD},
            {"percent": 100},
        ]
        env["canary"]["max_extensions"] = 1


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, tune=quick_canaries) as prod:
        yield prod


async def breach(prod: Production, env: str, fault: dict[str, Any]) -> str:
    """Start a canary of v2.0.0 under users' traffic, fault it once its first stage runs, and
    return the rule its card names once it is rolled back."""
    async with traffic(prod.sandbox, env):
        card = await canary(prod, env, "v2.0.0")
        await prod.slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 3 started"))
        await prod.sandbox.admin("POST", "/admin/faults/version", {"version": "v2.0.0", **fault})
        # A pause instead (say, too little data under a loaded machine) ends the wait with
        # the thread's account of it in the failure.
        ended = lambda: outcome(card) or card.text.endswith("Paused")  # noqa: E731
        await prod.slack.wait_for(ended, timeout=60)
    assert outcome(card) == "Rolled back", (card.plain(), thread_text(prod, card))
    assert "Promote green to 100 % — not run" in card.plain(), card.plain()
    assert await prod.sandbox.served_versions(env) == {"v1.1.0"}
    return fired_rule(card) or card.plain()


async def test_a_slow_canary_is_taken_out_by_the_latency_rule(running: Production) -> None:
    rule = await breach(running, "prod", {"latency_ms": 800})
    assert rule.startswith("canary p95 latency") and "> 500 ms for 2 intervals" in rule, rule
    assert await running.sandbox.enabled_endpoints() == {"blue"}


async def test_a_canary_that_loses_requests_is_taken_out_by_the_throughput_rule(
    running: Production,
) -> None:
    """The new version's worker crashes on its API requests: App Service's front end answers
    502 for them and the app's own /metrics never counts them, so its error rate looks clean;
    only its throughput, far below its 20 % share of the baseline's, gives it away."""
    rule = await breach(running, "dev", {"drop_rate": 1.0})
    assert rule.startswith("canary throughput"), rule
    assert "(50 % of baseline" in rule and "scaled to a 20 % share) for 2 intervals" in rule, rule


async def test_no_traffic_extends_the_stage_then_pauses_with_a_question(
    running: Production,
) -> None:
    prod, slack = running, running.slack
    card = await canary(prod, "prod", "v2.0.0")  # and no users at all
    await slack.wait_for(lambda: in_thread(prod, card, "Canary paused:"), timeout=40)
    thread = thread_text(prod, card)
    assert "Stage 1 extended: too little data: 0 of the 4 intervals needed" in thread, thread
    assert "Stage 1 extended" in thread and thread.count("extended") == 1, thread  # max 1
    question = next(m.text for m in slack.thread(card) if m.text.startswith("Canary paused:"))
    assert "There is too little traffic to judge the canary at 20 %" in question, question
    assert "after 1 extension" in question and "Resume to keep watching" in question, question
    await slack.wait_for(lambda: card.text.endswith("Paused") and "Resume" in card.buttons())
    # Paused, not failed: the canary still has its share, and a person decides.
    assert await prod.sandbox.enabled_endpoints() == {"blue", "green"}
    assert await slack.click(BOB, card, "Abort") == 200
    await slack.wait_for(lambda: outcome(card), timeout=30)
    assert outcome(card) == "Rolled back", card.text


async def test_a_shared_database_outage_pauses_the_canary_instead_of_rolling_it_back(
    running: Production,
) -> None:
    prod, sandbox, slack = running, running.sandbox, running.slack
    async with traffic(sandbox, "prod"):
        card = await canary(prod, "prod", "v2.0.0")
        await slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 3 started"))
        await sandbox.admin("POST", "/admin/faults/dependency", {"name": "database"})
        await slack.wait_for(lambda: card.text.endswith("Paused"), timeout=30)
        rule = fired_rule(card) or ""
        assert "shared dependency failing on canary and baseline: database" in rule, rule
        paused = next(line for line in canary_lines(card) if line.startswith(":double_vert"))
        assert "an outage the new version did not cause" in paused, paused
        await asyncio.sleep(1)  # users still get errors from both versions; nothing is blamed
        assert card.text.endswith("Paused") and outcome(card) is None, card.text
        assert await sandbox.enabled_endpoints() == {"blue", "green"}
        # The question is posted in the thread once the card says Paused (CanaryStage._pause).
        question = "is failing on both the canary and the baseline"
        await slack.wait_for(lambda: in_thread(prod, card, question), timeout=15)
        # The database is back: a person resumes, and the judge passes the stage it paused.
        await sandbox.admin("POST", "/admin/faults/dependency", {"name": "database", "down": False})
        assert await slack.click(ALICE, card, "Resume") == 200
        await slack.wait_for(lambda: in_thread(prod, card, "Stage 1 (20 %) passed"), timeout=40)
        assert await slack.click(BOB, card, "Promote") == 200
        await slack.wait_for(lambda: outcome(card), timeout=40)
    assert outcome(card) == "Succeeded", (card.plain(), thread_text(prod, card))
    assert await sandbox.served_versions("prod") == {"v2.0.0"}
