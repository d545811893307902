"""The deploy queue across two `deploybot serve` replicas on one real PostgreSQL.

A request waits in its environment's line in the database, not in a replica: it is joined,
approved and cancelled on whichever replica Slack reaches, keeps its place when the replica
running the job ahead of it dies, and starts on the replica that frees the lock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage import Store
from storage.audit import AuditEvent
from tests.postgres_server import needs_postgres
from tests.smoke_gate import Gate, gate_server

from .conftest import BotProcess
from .fake_slack import FakeSlack, Message
from .test_replicas import two_replicas
from .test_serve_queue import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    SLOW,
    answer,
    click_answer,
    deployment_id,
    queue_it,
    state_line,
)
from .test_serve_restart import in_thread

pytestmark = needs_postgres
# Long enough that a busy 2-core machine does not let a live replica's lease lapse, short
# enough that the takeover after SIGKILL comes within seconds.
LEASE_S = 3.0


def smoke_before_switch(gate: Gate) -> Callable[[dict[str, Any]], None]:
    def tune(config: dict[str, Any]) -> None:
        config["environments"]["prod"]["hooks"] = {
            "pre_switch": {"url": gate.url, "timeout": "120s"}
        }

    return tune


@pytest.fixture
def database_url(new_postgres_database: Callable[[], str]) -> str:
    return new_postgres_database()


def on(slack: FakeSlack, replica: BotProcess) -> None:
    """Slack's next request reaches ``replica`` (the load balancer's choice)."""
    slack.bot_url = replica.url


async def approve_twice(
    slack: FakeSlack, card: Message, first: BotProcess, second: BotProcess, expect: str
) -> None:
    """Both leads approve, each click reaching another replica."""
    on(slack, first)
    await click_answer(slack, BOB, card, "Approve", "Approved (1 of 2)")
    on(slack, second)
    await click_answer(slack, CAROL, card, "Approve", expect)


async def held_prod(slack: FakeSlack, gate: Gate, replica: BotProcess) -> Message:
    """A prod deploy of v1.2.0 asked for and approved on ``replica``, held in its pre-switch
    hook: its job runs there and holds prod's lock."""
    on(slack, replica)
    assert await slack.command(ALICE, "/deploy prod v1.2.0") == 200
    card = await slack.wait_for(lambda: slack.card("`v1.2.0`"), timeout=SLOW)
    await approve_twice(slack, card, replica, replica, "Approved (2 of 2)")
    await slack.poll(lambda: gate.calls == ["v1.2.0"], timeout=SLOW)
    return card


def pid_of(replica: BotProcess) -> int:
    assert replica.process is not None
    return replica.process.pid


def replica_pid(holder: str) -> int:
    """The process id in a replica's name (``host:pid:tail``, commands.job_leases)."""
    return int(holder.split(":")[1])


def started_steps(events: list[AuditEvent], deployment: str) -> Counter[str]:
    return Counter(
        str(e.details["step"])
        for e in events
        if e.deployment_id == deployment and e.action == "step.started"
    )


async def test_a_request_queued_on_b_waits_out_the_death_of_a_and_runs_on_b(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        gate_server("v1.2.0", "v1.3.0") as gate,
        two_replicas(tmp_path, database_url, smoke_before_switch(gate), LEASE_S) as (
            running,
            a,
            b,
            b_ready,
        ),
    ):
        slack, sandbox = running.slack, running.sandbox
        first = await held_prod(slack, gate, a)
        await b_ready

        on(slack, b)  # prod is busy on A; B answers that, and the Queue it click goes to B
        second, said = await queue_it(slack, ALICE, "v1.3.0")
        assert "1st in line" in said, said
        ids = deployment_id(first), deployment_id(second)
        await approve_twice(slack, second, a, b, "Approved (2 of 2)")
        await slack.wait_for(lambda: state_line(second) == "Queued", timeout=SLOW)
        assert "In line:* 1st of 1 for prod" in second.plain(), second.plain()
        assert f"(now running `{ids[0]}`)" in second.plain(), second.plain()

        a.kill()  # mid-deploy, holding prod, with an approved request waiting behind it
        on(slack, b)
        await slack.wait_for(lambda: in_thread(slack, first, "took the job over"), timeout=60)
        await slack.poll(lambda: gate.calls == ["v1.2.0", "v1.2.0"], timeout=SLOW)
        assert state_line(second) == "Queued", second.plain()
        assert "In line:* 1st of 1 for prod" in second.plain(), second.plain()

        await gate.let_through("v1.2.0")
        await slack.wait_for(lambda: state_line(first) == "Succeeded", timeout=120)
        await slack.poll(lambda: gate.calls[2:] == ["v1.3.0"], timeout=120)
        await slack.wait_for(lambda: state_line(second) == "Running", timeout=SLOW)
        assert "In line" not in second.plain(), second.plain()
        await gate.let_through("v1.3.0")
        await slack.wait_for(lambda: state_line(second) == "Succeeded", timeout=120)

        assert gate.calls == ["v1.2.0", "v1.2.0", "v1.3.0"]
        assert await sandbox.served_versions("prod") == {"v1.3.0"}
        assert len(await sandbox.enabled_endpoints()) == 1
        code, out = await running.audit_verify()
        assert code == 0, out
        async with Store.open(database_url) as store:
            events = await store.audit.query(newest_first=False)
            lock = await store.locks.get("prod")
        assert lock is None
        # The job taken over ran each step once, but the one A died in: B asked the hook again.
        first_steps = started_steps(events, ids[0])
        assert first_steps["pre_switch_hook"] == 2, first_steps
        assert set((first_steps - Counter(["pre_switch_hook"])).values()) == {1}, first_steps
        # The queued one ran (on B: the only replica left) from its start, each step once.
        second_steps = started_steps(events, ids[1])
        assert second_steps and set(second_steps.values()) == {1}, second_steps
        [recovered] = [e for e in events if e.action == "job.recovered"]
        assert recovered.deployment_id == ids[0]
        assert replica_pid(recovered.details["taken_over_from"]) == pid_of(a)
        assert replica_pid(recovered.details["replica"]) == pid_of(b)
        finished = {e.deployment_id: e for e in events if e.action == "deployment.finished"}
        assert finished[ids[0]].details["outcome"] == "succeeded"
        assert finished[ids[1]].details["outcome"] == "succeeded"
        assert finished[ids[0]].seq < min(
            e.seq for e in events if e.deployment_id == ids[1] and e.action == "step.started"
        )


async def test_the_line_keeps_its_order_across_replicas_and_a_cancel_on_either_moves_it(
    tmp_path: Path, database_url: str
) -> None:
    async with (
        gate_server("v1.2.0", "v1.4.0") as gate,
        two_replicas(tmp_path, database_url, smoke_before_switch(gate), LEASE_S) as (
            running,
            a,
            b,
            b_ready,
        ),
    ):
        slack, sandbox = running.slack, running.sandbox
        first = await held_prod(slack, gate, a)
        await b_ready

        # Joined from alternating replicas: B, A, B.
        on(slack, b)
        x, said = await queue_it(slack, ALICE, "v1.3.0")
        assert "1st in line" in said, said
        on(slack, a)
        y, said = await queue_it(slack, ALICE, "v1.4.0")
        assert "2nd in line" in said, said
        on(slack, b)
        z, said = await queue_it(slack, ALICE, "v1.5.0")
        assert "3rd in line" in said, said
        await slack.wait_for(lambda: "In line:* 2nd of 3 for prod" in y.plain(), timeout=SLOW)
        ids = [deployment_id(card) for card in (first, x, y, z)]

        # The last in line is approved first, on both replicas; it still waits its turn.
        await approve_twice(slack, z, a, b, "3rd in line")
        await approve_twice(slack, y, b, a, "2nd in line")
        await approve_twice(slack, x, b, a, "1st in line")
        for card in (x, y, z):
            await slack.wait_for(lambda c=card: state_line(c) == "Queued", timeout=SLOW)

        # B holds nothing; a cancel sent there withdraws the first in line, and the cards
        # behind it (drawn by A and by B) move up.
        on(slack, b)
        refusal = await answer(slack, DAVE, f"/deploy cancel {ids[1]}", "Sorry")
        assert "only its requester or an approver" in str(refusal)
        await answer(slack, ALICE, f"/deploy cancel {ids[1]}", "Cancelled the request")
        await slack.wait_for(lambda: state_line(x) == "Cancelled", timeout=SLOW)
        await slack.wait_for(lambda: "In line:* 1st of 2 for prod" in y.plain(), timeout=SLOW)
        await slack.wait_for(lambda: "In line:* 2nd of 2 for prod" in z.plain(), timeout=SLOW)
        assert gate.calls == ["v1.2.0"], "nothing may start while prod is held"

        await gate.let_through("v1.2.0")
        await slack.wait_for(lambda: state_line(first) == "Succeeded", timeout=120)
        await slack.poll(lambda: gate.calls == ["v1.2.0", "v1.4.0"], timeout=120)
        await slack.wait_for(lambda: "In line:* 1st of 1 for prod" in z.plain(), timeout=SLOW)
        assert f"(now running `{ids[2]}`)" in z.plain(), z.plain()
        await gate.let_through("v1.4.0")
        for card in (y, z):
            await slack.wait_for(lambda c=card: state_line(c) == "Succeeded", timeout=120)

        assert gate.calls == ["v1.2.0", "v1.4.0", "v1.5.0"]
        assert await sandbox.served_versions("prod") == {"v1.5.0"}
        assert "In line" not in z.plain()
        code, out = await running.audit_verify()
        assert code == 0, out
        async with Store.open(database_url) as store:
            events = await store.audit.query(newest_first=False)
        first_start = {}
        for e in events:
            if e.action == "step.started":
                first_start.setdefault(e.deployment_id, e.seq)
        finished = {e.deployment_id: e.seq for e in events if e.action == "deployment.finished"}
        assert finished[ids[0]] < first_start[ids[2]] < finished[ids[2]] < first_start[ids[3]]
        assert ids[1] not in first_start  # cancelled before it started
        [cancelled] = [e for e in events if e.action == "deploy.cancelled"]
        assert (cancelled.actor, cancelled.deployment_id) == (ALICE, ids[1])
        assert cancelled.details["previous"] == "queued"
        assert [e for e in events if e.action == "job.recovered"] == []
        for d in ids[2:]:
            steps = started_steps(events, d)
            assert steps and set(steps.values()) == {1}, (d, steps)


async def test_a_lock_left_by_a_replica_that_stopped_half_way_does_not_hold_up_the_line(
    tmp_path: Path, database_url: str
) -> None:
    """Two halves of a step a replica may not finish: taking the lock for the next request
    and starting its job; finishing a job and releasing its lock. The test writes the first
    half into the database, as a replica that died (or lost the database) in between leaves
    it; the other replica's lease keeper must carry it on once the lock is a lease old."""
    lease_s = 10.0  # time for the clicks of the second half before the keeper looks
    async with two_replicas(tmp_path, database_url, lease_s=lease_s) as (running, a, b, b_ready):
        slack, sandbox = running.slack, running.sandbox
        await b_ready
        on(slack, a)
        await answer(slack, ALICE, "/deploy lock prod migrating the database", "is locked")
        on(slack, b)
        x, said = await queue_it(slack, ALICE, "v1.3.0")
        assert "1st in line" in said, said
        await approve_twice(slack, x, a, b, "1st in line")
        await slack.wait_for(lambda: state_line(x) == "Queued", timeout=SLOW)
        x_id = deployment_id(x)

        # A takes `/deploy unlock prod`, releases the manual lock, takes the lock to start
        # x, and dies before starting it.
        a.kill()
        on(slack, b)
        async with Store.open(database_url) as store:
            await store.locks.release("prod", kind="manual")
            await store.audit.append(ALICE, "lock.released", environment="prod")
            await store.locks.acquire(
                "prod", ALICE, kind="job", deployment_id=x_id, reason="deploy v1.3.0"
            )
        await slack.wait_for(lambda: state_line(x) == "Succeeded", timeout=lease_s + 120)
        assert "In line" not in x.plain()

        # B finishes x but never releases its lock (the database went away in between).
        await answer(slack, ALICE, "/deploy prod v1.4.0", "needs 2 approval")
        y = await slack.wait_for(lambda: slack.card("`v1.4.0`"), timeout=SLOW)
        async with Store.open(database_url) as store:
            await store.locks.acquire(
                "prod", ALICE, kind="job", deployment_id=x_id, reason="deploy v1.3.0"
            )
        await approve_twice(slack, y, b, b, "1st in line")  # prod looks busy: y waits
        await slack.wait_for(lambda: state_line(y) == "Succeeded", timeout=lease_s + 120)

        assert await sandbox.served_versions("prod") == {"v1.4.0"}
        code, out = await running.audit_verify()
        assert code == 0, out
        async with Store.open(database_url) as store:
            events = await store.audit.query(newest_first=False)
            lock = await store.locks.get("prod")
        assert lock is None
        released = [e for e in events if e.action == "lock.released" and e.actor != ALICE]
        assert [(e.deployment_id, e.details["holder"]) for e in released] == [(x_id, ALICE)]
        assert "its job is succeeded" in released[0].details["reason"]
        y_id = deployment_id(y)
        for d in (x_id, y_id):
            steps = started_steps(events, d)
            assert steps and set(steps.values()) == {1}, (d, steps)
        finished = {
            e.deployment_id: e.details["outcome"]
            for e in events
            if e.action == "deployment.finished"
        }
        assert finished == {x_id: "succeeded", y_id: "succeeded"}
