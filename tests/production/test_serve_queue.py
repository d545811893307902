"""`deploybot serve` when environments are busy: Queue it, the line, cancel, the lock taken only
when a job starts, request-time pre-checks and the promotion order (staging before prod)."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.smoke_gate import Gate, gate_server

from .conftest import Production, production
from .fake_slack import FakeSlack, Message

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
SLOW = 60.0


async def answer(slack: FakeSlack, user: str, line: str, expect: str) -> dict[str, Any]:
    """The answer to a slash command that contains ``expect`` (after this command)."""
    mark = len(slack.responses)
    assert await slack.command(user, line) == 200
    return await slack.wait_for(lambda: _since(slack, mark, expect), timeout=SLOW)


async def click_answer(
    slack: FakeSlack, user: str, card: Message, label: str, expect: str
) -> dict[str, Any]:
    mark = len(slack.responses)
    assert await slack.click(user, card, label) == 200
    return await slack.wait_for(lambda: _since(slack, mark, expect), timeout=SLOW)


def _since(slack: FakeSlack, mark: int, expect: str) -> dict[str, Any] | None:
    found = [r for r in slack.responses[mark:] if expect in json.dumps(r, ensure_ascii=False)]
    return found[0] if found else None


def button(response: dict[str, Any], label: str) -> dict[str, Any]:
    return next(
        e
        for b in response.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == label
    )


async def queue_it(slack: FakeSlack, user: str, version: str) -> tuple[Message, str]:
    """Ask for prod while it is busy, click Queue it: the card and the answer."""
    busy = await answer(slack, user, f"/deploy prod {version}", "is busy")
    mark = len(slack.responses)
    assert await slack.click_button(user, button(busy, "Queue it")) == 200
    queued = await slack.wait_for(lambda: _since(slack, mark, "in line"), timeout=SLOW)
    card = await slack.wait_for(lambda: slack.card(f"`{version}`"), timeout=SLOW)
    return card, str(queued["text"])


def deployment_id(card: Message) -> str:
    found = re.search(r"id `(d-[0-9a-f]+)`", card.plain())
    assert found, card.plain()
    return found.group(1)


def state_line(card: Message) -> str:
    found = re.search(r"\*State\*\\n:[a-z_]+: ([A-Za-z ]+)", card.plain())
    return found.group(1) if found else ""


def audit_rows(database: Path, action: str) -> list[tuple[int, str, str | None, dict[str, Any]]]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(
            "SELECT seq, actor, deployment_id, details FROM audit_events WHERE action = ? "
            "ORDER BY seq",
            (action,),
        ).fetchall()
    return [(seq, actor, d, json.loads(details)) for seq, actor, d, details in rows]


async def test_busy_prod_queues_requests_that_run_in_order_with_approvals_counted(
    tmp_path: Path,
) -> None:
    async with gate_server() as gate:

        def smoke_before_switch(config: dict[str, Any]) -> None:
            prod = config["environments"]["prod"]
            prod["hooks"] = {"pre_switch": {"url": gate.url, "timeout": "90s"}}

        async with production(tmp_path, tune=smoke_before_switch) as running:
            await _queue_journey(running, gate)


async def _queue_journey(running: Production, gate: Gate) -> None:
    slack, sandbox = running.slack, running.sandbox
    assert await slack.command(ALICE, "/deploy prod v1.2.0") == 200
    first = await slack.wait_for(lambda: (c := slack.card("`v1.2.0`")) and c, timeout=SLOW)
    await click_answer(slack, BOB, first, "Approve", "Approved (1 of 2)")
    await click_answer(slack, CAROL, first, "Approve", "Approved (2 of 2)")
    await slack.wait_for(lambda: gate.calls == ["v1.2.0"], timeout=SLOW)  # the job holds prod

    second, said = await queue_it(slack, ALICE, "v1.3.0")
    assert "1st in line" in said
    third, said = await queue_it(slack, ALICE, "v1.4.0")
    assert "2nd in line" in said
    fourth, said = await queue_it(slack, ALICE, "v1.5.0")
    assert "3rd in line" in said
    await slack.wait_for(lambda: "In line:* 2nd of 3 for prod" in third.plain(), timeout=SLOW)
    assert f"(now running `{deployment_id(first)}`)" in third.plain()

    # Cancel of a queued request: refused for dave, done for its requester; the line moves.
    refusal = await answer(slack, DAVE, f"/deploy cancel {deployment_id(fourth)}", "Sorry")
    assert "only its requester or an approver" in str(refusal)
    await answer(slack, ALICE, f"/deploy cancel {deployment_id(fourth)}", "Cancelled the request")
    await slack.wait_for(lambda: state_line(fourth) == "Cancelled", timeout=SLOW)
    await slack.wait_for(lambda: "In line:* 2nd of 2 for prod" in third.plain(), timeout=SLOW)

    # Approvals given while they wait count; the third is approved first, yet waits its turn.
    await click_answer(slack, BOB, third, "Approve", "Approved (1 of 2)")
    done = await click_answer(slack, CAROL, third, "Approve", "Approved (2 of 2)")
    assert "prod is busy" in str(done) and "2nd in line" in str(done)
    await click_answer(slack, CAROL, second, "Approve", "Approved (1 of 2)")
    await click_answer(slack, BOB, second, "Approve", "Approved (2 of 2)")
    await slack.wait_for(lambda: state_line(third) == "Queued", timeout=SLOW)
    assert gate.calls == ["v1.2.0"], "nothing else may start while prod is held"

    await gate.open()
    for card in (first, second, third):
        await slack.wait_for(lambda c=card: state_line(c) == "Succeeded", timeout=120)
    assert gate.calls == ["v1.2.0", "v1.3.0", "v1.4.0"]
    assert await sandbox.served_versions("prod") == {"v1.4.0"}
    assert "In line" not in third.plain()

    # Ground truth in the audit log: one job at a time, in the order they joined the line.
    ids = [deployment_id(c) for c in (first, second, third)]
    finished = {d: seq for seq, _, d, _ in audit_rows(running.database, "deployment.finished")}
    started: dict[str, int] = {}
    for seq, _, d, _ in audit_rows(running.database, "step.started"):
        started.setdefault(str(d), seq)
    assert finished[ids[0]] < started[ids[1]]
    assert finished[ids[1]] < started[ids[2]]
    [cancelled] = audit_rows(running.database, "deploy.cancelled")
    assert cancelled[1] == ALICE and cancelled[2] == deployment_id(fourth)
    code, out = await running.audit_verify()
    assert code == 0, out


def staging_first(config: dict[str, Any]) -> None:
    config["environments"]["prod"]["requires"] = ["staging"]


async def test_pending_requests_hold_nothing_checks_run_when_asked_and_staging_comes_first(
    tmp_path: Path,
) -> None:
    async with production(tmp_path, tune=staging_first) as running:
        slack, sandbox, db = running.slack, running.sandbox, running.database

        # Pre-checks that cost nothing run when the deploy is asked for.
        await sandbox.admin(
            "POST", "/admin/faults/version", {"version": "v9.9.9", "missing_artifact": True}
        )
        refused = await answer(slack, ALICE, "/deploy staging v9.9.9", "Sorry")
        assert "v9.9.9 cannot go to staging now: the artifact" in str(refused)
        assert "answered 404" in str(refused)
        await sandbox.admin(
            "POST",
            "/admin/faults/app",
            {"app": "virtualqueue-staging", "slot": "green", "down": True},
        )
        refused = await answer(slack, ALICE, "/deploy staging v1.3.0", "Sorry")
        assert "green (where the new version goes) is not healthy" in str(refused)
        await sandbox.admin("DELETE", "/admin/faults")
        assert slack.card("v9.9.9") is None and slack.card("`v1.3.0`") is None

        # Promotion order: the refusal names the missing step; --force goes to approval.
        refused = await answer(slack, ALICE, "/deploy prod v1.2.0", "Sorry")
        assert "v1.2.0 has not succeeded on staging; deploy it there first or add --force" in str(
            refused
        )
        await answer(slack, ALICE, "/deploy prod v1.2.0 --force", "needs 2 approval")
        forced = await slack.wait_for(lambda: slack.card("`v1.2.0`"), timeout=SLOW)
        assert "--force: not yet succeeded on staging" in forced.plain()

        # Staging first, then prod, while the forced request still waits for approval.
        await answer(slack, ALICE, "/deploy staging v1.3.0", "needs 1 approval")
        staging = await slack.wait_for(lambda: slack.card("Deploy · staging"), timeout=SLOW)
        await click_answer(slack, BOB, staging, "Approve", "Approved (1 of 1)")
        await slack.wait_for(lambda: state_line(staging) == "Succeeded", timeout=120)
        # Not busy: the pending forced request holds nothing.
        await answer(slack, ALICE, "/deploy prod v1.3.0", "needs 2 approval")
        promoted = await slack.wait_for(lambda: slack.card("`v1.1.0` → `v1.3.0`"), timeout=SLOW)
        await click_answer(slack, BOB, promoted, "Approve", "Approved (1 of 2)")
        await click_answer(slack, CAROL, promoted, "Approve", "Approved (2 of 2)")
        await slack.wait_for(lambda: state_line(promoted) == "Succeeded", timeout=120)
        assert await sandbox.served_versions("prod") == {"v1.3.0"}
        assert state_line(forced) == "Waiting for approval"

        # Cancel of a pending request: refused for dave, done by an approver.
        forced_id = deployment_id(forced)
        refusal = await answer(slack, DAVE, f"/deploy cancel {forced_id}", "Sorry")
        assert "only its requester or an approver" in str(refusal)
        await answer(slack, CAROL, f"/deploy cancel {forced_id}", "Cancelled the request")
        await slack.wait_for(lambda: state_line(forced) == "Cancelled", timeout=SLOW)

        [override] = audit_rows(db, "promotion.override")
        assert override[1:] == (ALICE, forced_id, {"version": "v1.2.0", "missing": ["staging"]})
        refusals = [r[3] for r in audit_rows(db, "deploy.refused")]
        assert [r["reason"] for r in refusals if r.get("missing")] == ["promotion order"]
        assert sum("answered 404" in r["reason"] for r in refusals) == 1
        [cancelled] = audit_rows(db, "deploy.cancelled")
        assert cancelled[1:3] == (CAROL, forced_id)
        code, out = await running.audit_verify()
        assert code == 0, out
