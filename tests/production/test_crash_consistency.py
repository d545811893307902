"""`deploybot serve` SIGKILLed at random moments of deployments on both topologies, and in the
middle of the traffic switch with Azure finishing it during the downtime or after the restart.

After each restart, on the same database: production serves exactly one version, the card
names it (Succeeded means the new one, Rolled back or Failed the old one), no step is drawn
as still running, and at the end the audit chain verifies. ``DEPLOYBOT_CRASH_RUNS`` sets how
many random kills each topology gets (CI runs the default; the issue's 20+ is a local run).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .conftest import Production, SandboxProcess, production
from .fake_slack import Message
from .test_serve_restart import ALICE, outcome, restarted

RANDOM_RUNS = int(os.environ.get("DEPLOYBOT_CRASH_RUNS", "1"))
SEED = int(os.environ.get("DEPLOYBOT_CRASH_SEED", "8"))


@dataclass(frozen=True)
class Topology:
    environment: str
    # The ARM request that moves traffic, as the sandbox's fault matcher sees its path.
    switch_request: str
    # Makes that request slow: ("slow_lro", …) a swap Azure finishes by itself after N s,
    # ("hang", …) a Traffic Manager PATCH answered (and carried out) after N s.
    fault: str


SLOTS = Topology("dev", "virtualqueue-dev/slotsswap", "slow_lro")
TRAFFIC_MANAGER = Topology("prod", "azureendpoints", "hang")


@dataclass
class Tally:
    runs: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        return f"{name}: {self.runs - len(self.problems)}/{self.runs} consistent"


def no_approvals(config: dict[str, Any]) -> None:
    """Kill points are in the job; approvals are tested elsewhere and only cost time here."""
    for env in config["environments"].values():
        env["approvals"] = {"required": 0}


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, tune=no_approvals) as prod:
        yield prod


async def in_flight(sandbox: SandboxProcess, topology: Topology, since: int) -> None:
    """Until the slowed switch request is in Azure's hands."""
    for _ in range(600):
        if topology.fault == "hang":
            if (await sandbox.admin("GET", "/admin/faults"))["hanging"]:
                return
        else:
            log = await sandbox.admin("GET", "/admin/arm-requests?limit=100000")
            if any(
                r["method"] == "POST" and topology.switch_request in r["path"].lower()
                for r in log[since:]
            ):
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the {topology.fault} switch request never started")


async def arm_log_length(sandbox: SandboxProcess) -> int:
    return len(await sandbox.admin("GET", "/admin/arm-requests?limit=100000"))


async def judge(prod: Production, card: Message, env: str, new: str, old: str) -> str | None:
    """None when Azure, the public host and the card agree; else what disagrees."""
    slack = prod.slack
    try:
        await slack.wait_for(lambda: outcome(card), timeout=120)
    except (AssertionError, TimeoutError):
        return f"{new}: the card never finished: {card.text[:120]!r}"
    ending = outcome(card)
    await prod.slack.wait_for(lambda: "⏳" not in card.plain(), timeout=10)
    served = await prod.sandbox.served_versions(env)
    if len(served) != 1:
        return f"{new}: production serves {sorted(served)} (card: {ending})"
    [live] = served
    expected = new if ending == "Succeeded" else old
    if live != expected:
        return f"{new}: card says {ending}, production serves {live}"
    if "○" in card.plain():
        return f"{new}: a terminal card still draws a pending step"
    return None


async def deploy_and_kill(
    prod: Production,
    topology: Topology,
    version: str,
    kill_when: Callable[[Message], Awaitable[None]],
    before_restart: Callable[[], Awaitable[None]] | None = None,
) -> str | None:
    slack, env = prod.slack, topology.environment
    [old] = await prod.sandbox.served_versions(env)
    assert await slack.command(ALICE, f"/deploy {env} {version}") == 200
    card: Message = await slack.wait_for(lambda: slack.card(version))
    await kill_when(card)
    prod.bot.kill()
    await prod.bot.stop()
    if before_restart is not None:
        await before_restart()
    await restarted(prod)
    return await judge(prod, card, env, version, old)


async def switch_in_flight(
    prod: Production, topology: Topology, version: str, seconds: float, finish_first: bool
) -> str | None:
    """Killed with the switch request in Azure's hands; Azure finishes it ``seconds`` later,
    while the bot is down (``finish_first``) or after the new process has started."""
    since = await arm_log_length(prod.sandbox)
    await prod.sandbox.admin(
        "POST",
        "/admin/faults/arm",
        {"kind": topology.fault, "match": topology.switch_request, "seconds": seconds},
    )

    async def when_switching(_: Message) -> None:
        await in_flight(prod.sandbox, topology, since)

    async def let_azure_finish() -> None:
        await asyncio.sleep(seconds + 0.5)

    problem = await deploy_and_kill(
        prod, topology, version, when_switching, let_azure_finish if finish_first else None
    )
    await prod.sandbox.admin("DELETE", "/admin/faults")
    card = prod.slack.card(version)
    assert card is not None
    thread = " ".join(m.text for m in prod.slack.thread(card))
    # What the thread says depends on where the kill landed: before Azure's 202 was recorded
    # the job finds the site busy (or already swapped); after, it follows the operation, which
    # may have ended before the new process looked. Each is a true account; silence is not.
    said = (
        "had completed while deploybot was down",
        "after the restart",
        "found after a restart",
        "already running in Azure",
    )
    if problem is None and topology is SLOTS and not any(s in thread for s in said):
        return f"{version}: the thread does not say what became of the swap: {thread[-300:]}"
    return problem


async def random_kill(
    prod: Production, topology: Topology, version: str, rng: random.Random, span_s: float
) -> str | None:
    async def after_a_while(_: Message) -> None:
        await asyncio.sleep(rng.uniform(0, span_s))

    return await deploy_and_kill(prod, topology, version, after_a_while)


def versions(start: int) -> Iterator[str]:
    return (f"v2.{n}.0" for n in range(start, start + 1000))


@pytest.mark.parametrize("topology", [SLOTS, TRAFFIC_MANAGER], ids=["slots", "traffic-manager"])
async def test_sigkill_anywhere_leaves_one_version_and_a_true_card(
    running: Production, topology: Topology, capsys: pytest.CaptureFixture[str]
) -> None:
    prod, tally = running, Tally()
    rng = random.Random(SEED)
    upcoming = versions(1)

    # The switch in flight: Azure finishes it while deploybot is down, then after the restart.
    for finish_first in (True, False):
        seconds = 1.0 if finish_first else 6.0
        problem = await switch_in_flight(prod, topology, next(upcoming), seconds, finish_first)
        tally.runs += 1
        if problem:
            tally.problems.append(problem)

    # Anywhere: a clean run measures how long a deployment takes, then kills land at random.
    slack, env = prod.slack, topology.environment
    clean = next(upcoming)
    started = asyncio.get_running_loop().time()
    assert await slack.command(ALICE, f"/deploy {env} {clean}") == 200
    card = await slack.wait_for(lambda: slack.card(clean))
    await slack.wait_for(lambda: outcome(card), timeout=90)
    span = asyncio.get_running_loop().time() - started
    assert outcome(card) == "Succeeded", card.text
    for _ in range(RANDOM_RUNS):
        problem = await random_kill(prod, topology, next(upcoming), rng, span)
        tally.runs += 1
        if problem:
            tally.problems.append(problem)

    code, out = await prod.audit_verify()
    with capsys.disabled():
        print(f"\n  crash consistency, {tally.line(topology.environment)} (seed {SEED})")
    assert not tally.problems, tally.problems
    assert code == 0, out
