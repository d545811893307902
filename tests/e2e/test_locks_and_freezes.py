"""One job per environment, retries that never start twice, freezes, dry runs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack

from .conftest import fast, latest


async def test_two_concurrent_requests_wait_side_by_side_without_locking(
    stack: LocalStack,
) -> None:
    """Waiting for approval holds nothing: both are requests, the lock is taken at the start
    (tests/e2e/test_queue.py runs them one after the other)."""
    alice, bob = stack.emu.user("U0ALICE"), stack.emu.user("U0BOB")
    await asyncio.gather(
        alice.command("/deploy", "prod v1.2.0", channel="#deploys"),
        bob.command("/deploy", "prod v1.3.0", channel="#deploys"),
    )
    await stack.services.idle()
    deployments = await stack.services.store.deployments.latest("prod", limit=10)
    assert sorted(d.requested_by for d in deployments) == ["U0ALICE", "U0BOB"]
    assert {d.state for d in deployments} == {"pending_approval"}
    assert await stack.services.store.locks.get("prod") is None


async def test_a_running_job_makes_the_environment_busy(stack: LocalStack) -> None:
    alice = stack.emu.user("U0ALICE")
    stack.sandbox.faults.arm("slow_lro", match="slotsswap", polls=0)  # the job holds dev
    await alice.command("/deploy", "dev v1.2.0", channel="#deploys")
    await stack.sandbox.wait_for_arm(
        lambda r: r.method == "POST" and r.path.lower().endswith("/slotsswap"), timeout=30
    )
    running = await latest(stack, "dev")
    await alice.command("/deploy", "dev v1.3.0", channel="#deploys")
    # It reads Azure and checks the artifact before it answers: seconds on a loaded machine.
    busy = await stack.ws.wait_for_ephemeral("U0ALICE", "busy", timeout=30)
    assert "held by <@U0ALICE>" in busy.text
    assert running.id in busy.text
    assert "Queue it" in str(busy.blocks)
    stack.sandbox.faults.release_lro()
    await stack.services.idle()
    assert [d.version for d in await stack.services.store.deployments.latest("dev")] == ["v1.2.0"]


async def test_a_retried_slash_command_starts_one_job(stack: LocalStack) -> None:
    alice = stack.emu.user("U0ALICE")
    first = await alice.command("/deploy", "dev v1.2.0", channel="#deploys")
    retry = await alice.resend(first, retry_num=1, reason="http_timeout")
    assert retry.status == 200
    await stack.services.idle()
    assert len(await stack.services.store.deployments.latest("dev", limit=10)) == 1
    again = await stack.ws.wait_for_ephemeral("U0ALICE", "already deployment")
    assert (await latest(stack, "dev")).id in again.text


def frozen(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    mapping["freezes"] = [
        {
            "name": "release-freeze",
            "environments": ["prod"],
            "weekly": {"days": days},
            "reason": "quarter end",
        }
    ]
    return mapping


@pytest.mark.parametrize("overrides", [frozen])
async def test_a_freeze_is_honoured_and_overridden_with_force(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    ws, emu = stack.ws, stack.emu
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    refusal = await ws.wait_for_ephemeral("U0ALICE", "frozen")
    assert "release-freeze (quarter end)" in refusal.text
    assert "--force" in refusal.text
    assert await stack.services.store.deployments.latest("prod") == []
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0 --force", channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    await emu.user("U0BOB").click(card, "Approve")
    await emu.user("U0CAROL").click(ws.message(card.channel, card.ts), "Approve")
    await stack.services.idle()
    d = await latest(stack, "prod")
    assert d.state == "succeeded", d.steps
    overrides_audited = await stack.services.store.audit.query(actions=["freeze.override"])
    assert overrides_audited[0].details["freeze"] == "release-freeze"


async def test_dry_run_prints_the_plan_and_changes_nothing(stack: LocalStack) -> None:
    before = len(stack.sandbox.arm_requests)
    await stack.emu.user("U0ALICE").command("/deploy", "prod v1.2.0 --dry-run", channel="#deploys")
    plan = await stack.ws.wait_for_ephemeral("U0ALICE", "Dry run")
    assert "nothing was changed" in plan.text
    assert "switch production traffic" in plan.text
    assert "Traffic Manager profile virtualqueue-production-tm" in plan.text
    assert "2 approval(s)" in plan.text
    assert "flip Traffic Manager back to blue" in plan.text
    assert "✓ artifact" in plan.text
    reads = ("GET",)
    writes = [
        r
        for r in stack.sandbox.arm_requests[before:]
        if r.method not in reads and not r.path.lower().endswith("/list")
    ]
    assert writes == []
    assert await stack.services.store.deployments.latest("prod") == []
    assert (await stack.services.store.locks.get("prod")) is None


async def test_dry_run_reports_a_missing_artifact(stack: LocalStack) -> None:
    stack.sandbox.faults.version("v9.9.9", missing_artifact=True)
    await stack.emu.user("U0ALICE").command("/deploy", "prod v9.9.9 --dry-run", channel="#deploys")
    plan = await stack.ws.wait_for_ephemeral("U0ALICE", "Dry run")
    assert "✗ artifact" in plan.text
    assert "404" in plan.text


async def test_a_deployer_without_rights_is_refused(stack: LocalStack) -> None:
    await stack.emu.user("U0DAVE").command("/deploy", "prod v1.2.0", channel="#deploys")
    refusal = await stack.ws.wait_for_ephemeral("U0DAVE", "Sorry")
    assert "you can't deploy to prod" in refusal.text


async def test_unlocking_a_finished_jobs_leftover_lock_says_what_it_is(stack: LocalStack) -> None:
    """A replica that died between finishing a job and releasing its lock leaves the lock; an
    unlock is told it is a finished job's, freed by deploybot itself, not a running job's."""
    alice = stack.emu.user("U0ALICE")
    await alice.command("/deploy", "dev v1.2.0", channel="#deploys")
    await stack.services.idle()
    done = await latest(stack, "dev")
    assert done.state == "succeeded"
    store = stack.services.store
    await store.locks.acquire("dev", "U0ALICE", kind="job", deployment_id=done.id, reason="x")
    await alice.command("/deploy", "unlock dev", channel="#deploys")
    answer = await stack.ws.wait_for_ephemeral("U0ALICE", "held by the lock", timeout=30)
    assert f"deployment {done.id}, which succeeded" in answer.text
    assert "running job" not in answer.text
