"""When an environment is busy: Queue it, the line, cancel, and the lock taken only at the start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.local import LocalStack, local_bot, local_settings, local_stack
from bot.slackemu.model import Ephemeral, Message
from storage import Deployment
from tests.smoke_gate import Gate, gate_server

from .conftest import fast
from .test_restart import unattended, world_and_db

SLOW = 30.0  # the machine is shared: answers can take seconds under load


@pytest.fixture
async def gated(tmp_path: Path) -> AsyncIterator[tuple[LocalStack, Gate]]:
    async with gate_server() as gate:

        def smoke_before_switch(mapping: dict[str, Any]) -> dict[str, Any]:
            mapping = fast(mapping)
            mapping["environments"]["prod"]["hooks"] = {"pre_switch": {"url": gate.url}}
            return mapping

        async with local_stack(
            overrides=smoke_before_switch,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}",
            publisher_interval=0.05,
        ) as stack:
            yield stack, gate
            await gate.open()


async def ask(stack: LocalStack, user: str, text: str, wait_for: str) -> Ephemeral:
    since = stack.ws.mark()
    await stack.emu.user(user).command("/deploy", text, channel="#deploys")
    return await stack.ws.wait_for_ephemeral(user, wait_for, since=since, timeout=SLOW)


async def queue_it(stack: LocalStack, user: str, busy: Ephemeral) -> Ephemeral:
    since = stack.ws.mark()
    await stack.emu.user(user).click(busy, "Queue it")
    return await stack.ws.wait_for_ephemeral(user, "in line", since=since, timeout=SLOW)


async def approve(stack: LocalStack, d: Deployment, *users: str) -> list[Ephemeral]:
    answers = []
    for user in users:
        since = stack.ws.mark()
        card = card_of(stack, d)
        await stack.emu.user(user).click(card, "Approve")
        answers.append(await stack.ws.wait_for_ephemeral(user, "Approved", since=since))
    return answers


def card_of(stack: LocalStack, d: Deployment) -> Message:
    [card] = [m for m in stack.ws.messages("#deploys") if f"`{d.id}`" in str(m.blocks)]
    return stack.ws.message(card.channel, card.ts)


async def by_version(stack: LocalStack, env: str, version: str) -> Deployment:
    [d] = [d for d in await stack.services.store.deployments.latest(env) if d.version == version]
    return d


async def state_of(stack: LocalStack, d: Deployment) -> str:
    found = await stack.services.store.deployments.get(d.id)
    assert found is not None
    return found.state


async def started_at(stack: LocalStack, d: Deployment) -> Any:
    rows = await stack.services.store.audit.query(deployment_id=d.id, actions=["step.started"])
    return min(r.at for r in rows)


async def finished_at(stack: LocalStack, d: Deployment) -> Any:
    [row] = await stack.services.store.audit.query(
        deployment_id=d.id, actions=["deployment.finished"]
    )
    return row.at


async def test_queued_requests_run_in_order_after_the_job_with_approvals_given_in_line(
    gated: tuple[LocalStack, Gate],
) -> None:
    stack, gate = gated
    await ask(stack, "U0ALICE", "prod v1.2.0", "needs 2 approval")
    first = await by_version(stack, "prod", "v1.2.0")
    await approve(stack, first, "U0BOB", "U0CAROL")
    await gate.reached(["v1.2.0"])  # the job holds prod
    assert (await stack.services.store.locks.get("prod")) is not None

    busy = await ask(stack, "U0ALICE", "prod v1.3.0", "busy")
    assert first.id in busy.text
    assert await stack.services.store.deployments.latest("prod", limit=5) != []
    queued = await queue_it(stack, "U0ALICE", busy)
    assert "1st in line" in queued.text
    second = await by_version(stack, "prod", "v1.3.0")
    assert second.state == "pending_approval"
    assert "In line:* 1st of 1 for prod" in str(card_of(stack, second).blocks)

    busy = await ask(stack, "U0ALICE", "prod v1.4.0", "busy")
    assert "2nd in line" in (await queue_it(stack, "U0ALICE", busy)).text
    third = await by_version(stack, "prod", "v1.4.0")

    # Approvals given while they wait count; approved, they still wait for their turn.
    [_, done] = await approve(stack, third, "U0BOB", "U0CAROL")
    assert "prod is busy" in done.text and "2nd in line" in done.text
    [_, done] = await approve(stack, second, "U0CAROL", "U0BOB")
    assert "1st in line" in done.text
    assert await state_of(stack, third) == "queued"

    assert gate.calls == ["v1.2.0"], "nothing else may start while prod is held"
    await gate.open()
    await stack.services.idle()
    assert gate.calls == ["v1.2.0", "v1.3.0", "v1.4.0"]
    finals = [await stack.services.store.deployments.get(d.id) for d in (first, second, third)]
    assert [d.state for d in finals if d] == ["succeeded"] * 3
    # One job at a time, in the order they joined the line.
    assert await finished_at(stack, first) <= await started_at(stack, second)
    assert await finished_at(stack, second) <= await started_at(stack, third)
    assert await stack.services.store.locks.get("prod") is None
    # The last card no longer shows a place in line; the third one started from what the
    # second left live, not from what was live when it was asked for.
    assert "In line" not in str(card_of(stack, third).blocks)
    assert finals[2] is not None and finals[2].from_version == "v1.3.0"
    # Each change of state is one audit row: the line moving a request to running is that row.
    for d in (first, second, third):
        rows = await stack.services.store.audit.query(
            actions=["deployment.state"], deployment_id=d.id, newest_first=False
        )
        moves = [(r.details["previous"], r.details["state"]) for r in rows]
        assert all(before != after for before, after in moves), moves
        assert [after for _, after in moves].count("running") == 1, moves


async def test_a_request_waiting_for_approval_does_not_hold_the_environment(
    stack: LocalStack,
) -> None:
    await ask(stack, "U0ALICE", "prod v1.2.0", "needs 2 approval")
    waiting = await by_version(stack, "prod", "v1.2.0")
    await ask(stack, "U0ALICE", "prod v1.3.0", "needs 2 approval")
    second = await by_version(stack, "prod", "v1.3.0")
    await approve(stack, second, "U0BOB", "U0CAROL")
    await stack.services.idle()
    assert await state_of(stack, second) == "succeeded"
    assert await state_of(stack, waiting) == "pending_approval"
    # The one that waited starts from what is live now.
    await approve(stack, waiting, "U0BOB", "U0CAROL")
    await stack.services.idle()
    done = await stack.services.store.deployments.get(waiting.id)
    assert done is not None and done.state == "succeeded" and done.from_version == "v1.3.0"


async def test_a_queued_request_starts_when_the_manual_lock_is_released(
    stack: LocalStack,
) -> None:
    await ask(stack, "U0ALICE", "lock staging migrating the database", "locked")
    # While it is busy the artifact is still checked (the target only when the job starts).
    stack.sandbox.faults.version("v9.9.9", missing_artifact=True)
    refused = await ask(stack, "U0ALICE", "staging v9.9.9", "Sorry")
    assert "the artifact" in refused.text and "answered 404" in refused.text
    busy = await ask(stack, "U0ALICE", "staging v1.2.0", "busy")
    assert "a manual lock: migrating the database" in busy.text
    await queue_it(stack, "U0ALICE", busy)
    d = await by_version(stack, "staging", "v1.2.0")
    await approve(stack, d, "U0BOB")
    await stack.services.idle()
    assert await state_of(stack, d) == "queued"
    assert "locked by <@U0ALICE>" in str(card_of(stack, d).blocks)

    await ask(stack, "U0ALICE", "unlock staging", "unlocked")
    await stack.services.idle()
    assert await state_of(stack, d) == "succeeded"


async def test_cancel_a_queued_request_by_its_requester_or_an_approver_only(
    stack: LocalStack,
) -> None:
    await ask(stack, "U0ALICE", "lock prod maintenance", "locked")
    for version in ("v1.2.0", "v1.3.0"):
        await queue_it(stack, "U0ALICE", await ask(stack, "U0ALICE", f"prod {version}", "busy"))
    first = await by_version(stack, "prod", "v1.2.0")
    second = await by_version(stack, "prod", "v1.3.0")
    assert "2nd of 2" in str(card_of(stack, second).blocks)

    refusal = await ask(stack, "U0DAVE", f"cancel {first.id}", "Sorry")
    assert "only its requester or an approver" in refusal.text
    assert await state_of(stack, first) == "pending_approval"

    answer = await ask(stack, "U0CAROL", f"cancel {first.id}", "Cancelled the request")
    assert first.id in answer.text
    await stack.services.idle()
    assert await state_of(stack, first) == "cancelled"
    assert "1st of 1" in str(card_of(stack, second).blocks)  # it moved up

    answer = await ask(stack, "U0ALICE", "cancel prod", "Cancelled the request")
    assert second.id in answer.text
    await stack.services.idle()
    rows = await stack.services.store.audit.query(actions=["deploy.cancelled"])
    assert sorted((r.actor, r.deployment_id) for r in rows) == sorted(
        [("U0CAROL", first.id), ("U0ALICE", second.id)]
    )
    assert "Approve" not in str(card_of(stack, second).blocks)
    assert (await stack.services.store.locks.get("prod")) is not None  # the manual lock stays


async def test_a_request_that_cannot_run_is_refused_when_asked_for(stack: LocalStack) -> None:
    stack.sandbox.faults.version("v9.9.9", missing_artifact=True)
    refusal = await ask(stack, "U0ALICE", "prod v9.9.9", "Sorry")
    assert "v9.9.9 cannot go to prod now: the artifact" in refusal.text
    assert "answered 404" in refusal.text
    assert await stack.services.store.deployments.latest("prod") == []
    [row] = await stack.services.store.audit.query(actions=["deploy.refused"])
    assert "answered 404" in row.details["reason"]


async def test_the_line_outlives_a_restart(database_url: str) -> None:
    """Killed while a job holds staging and another waits in line: the new process resumes
    the job, then starts the one in line."""
    async with world_and_db(database_url) as (world, db):
        settings = local_settings(world, overrides=unattended)
        async with local_bot(world, settings, db, publisher_interval=0.05) as first:
            first.sandbox.faults.arm("slow_lro", match="slotsswap", polls=0)  # held mid-swap
            await first.emu.user("U0ALICE").command("/deploy", "staging v1.2.0", channel="#deploys")
            await first.sandbox.wait_for_arm(
                lambda r: r.method == "POST" and r.path.lower().endswith("/slotsswap"), timeout=30
            )
            busy = await ask(first, "U0ALICE", "staging v1.3.0", "busy")
            await queue_it(first, "U0ALICE", busy)
            waiting = await by_version(first, "staging", "v1.3.0")
            assert waiting.state == "queued"
            # Leaving the block stops the runner at once, as a crash would.
        world.sandbox.faults.release_lro()  # Azure finishes the swap without us
        async with local_bot(world, settings, db, publisher_interval=0.05) as second:
            await second.services.idle()
            running = await by_version(second, "staging", "v1.2.0")
            assert await state_of(second, running) == "succeeded"
            assert await state_of(second, waiting) == "succeeded"
            assert await finished_at(second, running) <= await started_at(second, waiting)
            assert second.sandbox.version("virtualqueue-staging") == "v1.3.0"
            verified = await second.services.store.audit.verify()
            assert verified.ok, verified.problem
