"""A Roll back click's Traffic Manager PATCH goes out before anything about it is written, and
so does a health breach's.

`deploybot serve` on a SQLite file; the test holds the file's write lock (as another process
writing would) while the person clicks Roll back on a watching deployment, so no row can
commit: the PATCH still reaches Azure. Let go, every row of the click and the rollback is
written in order. Killed instead while the rows are still waiting, the next serve finds the
traffic already back, says so, and ends the deployment Rolled back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Production, SandboxProcess, production
from .fake_slack import Message
from .test_serve_restart import ALICE, BOB, outcome, restarted

DAVE = "U0DAVE"  # no role: he may read prod, not change it

NEW = "v1.3.0"


def watch_long(config: dict[str, Any]) -> None:
    prod = config["environments"]["prod"]
    prod["approvals"] = {"required": 0}
    prod["health"]["watch"] = "120s"  # still watching whenever the test clicks


def watch_long_checking_often(config: dict[str, Any]) -> None:
    watch_long(config)
    config["environments"]["prod"]["health"]["watch_interval"] = "1s"


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, tune=watch_long) as prod:
        yield prod


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[sqlite3.Connection]:
    """The database's write lock, held by this process for the block (every writer of the
    bot waits for it, within its busy timeout)."""
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield connection
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def watching(prod: Production) -> tuple[Message, str]:
    """A prod deployment of NEW, watching, with Roll back on its card; the version before."""
    [old] = await prod.sandbox.served_versions("prod")
    assert await prod.slack.command(ALICE, f"/deploy prod {NEW}") == 200
    card: Message = await prod.slack.wait_for(
        lambda: (c := prod.slack.card(NEW)) and "Roll back" in c.buttons() and c, timeout=90
    )
    return card, old


async def arm_requests(sandbox: SandboxProcess) -> list[dict[str, Any]]:
    return list(await sandbox.admin("GET", "/admin/arm-requests?limit=100000"))


def patches(log: list[dict[str, Any]], since: int) -> list[dict[str, Any]]:
    """The Traffic Manager PATCHes in the ARM request log after entry ``since``."""
    return [
        r
        for r in log[since:]
        if r["method"] == "PATCH" and "/trafficmanagerprofiles/" in r["path"].lower()
    ]


async def traffic_manager_patch(sandbox: SandboxProcess, since: int) -> None:
    for _ in range(500):
        if patches(await arm_requests(sandbox), since):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no Traffic Manager PATCH with the database locked")


def stored(connection: sqlite3.Connection, card: Message) -> tuple[str, list[str]]:
    """The deployment's state and its audit rows' actions, as committed."""
    [(deployment_id, state)] = connection.execute(
        "SELECT id, state FROM deployments WHERE card_ts = ?", (card.ts,)
    ).fetchall()
    rows = connection.execute(
        "SELECT action, actor, details FROM audit_events WHERE deployment_id = ? ORDER BY seq",
        (deployment_id,),
    ).fetchall()
    return state, [_row(action, actor, details) for action, actor, details in rows]


async def rolled_back_in_order(prod: Production, card: Message, old: str, first: list[str]) -> None:
    """The card ends Rolled back with ``old`` served again; after Watching, the committed rows
    are ``first`` and then the rollback's own, in that order; the chain verifies."""
    await prod.slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Rolled back", card.text
    assert await prod.sandbox.served_versions("prod") == {old}
    with contextlib.closing(sqlite3.connect(prod.database)) as connection:
        state, actions = stored(connection, card)
    assert state == "rolled_back"
    after_watching = actions[actions.index("deployment.state watching") + 1 :]
    expected = [
        *first,
        "deployment.state rolling_back",
        "step.started rollback",
        "step.done rollback",
        "deployment.finished rolled_back",
    ]
    assert [a for a in after_watching if a in expected] == expected, after_watching
    code, out = await prod.audit_verify()
    assert code == 0, out


def _row(action: str, actor: str, details: str) -> str:
    shown = json.loads(details)
    if action == "deployment.state":
        return f"{action} {shown['state']}"
    if action == "deployment.finished":
        return f"{action} {shown['outcome']}"
    if action.startswith("step."):
        return f"{action} {shown['step']}"
    if action == "health.verdict":
        return f"{action} {shown['where']} {'ok' if shown['ok'] else 'failed'}"
    return f"{action} {actor}"


async def test_the_patch_goes_out_before_any_row_and_every_row_follows(
    running: Production,
) -> None:
    prod = running
    card, old = await watching(prod)
    since = len(await arm_requests(prod.sandbox))
    with write_lock_held(prod.database) as locked:
        assert await prod.slack.click(BOB, card, "Roll back") == 200
        await traffic_manager_patch(prod.sandbox, since)
        state, actions = stored(locked, card)
        assert state == "watching", state
        assert "rollback.requested U0BOB" not in actions, actions

    clicked = ["click.received U0BOB", "rollback.requested U0BOB"]
    await rolled_back_in_order(prod, card, old, clicked)


async def test_a_health_breach_switches_back_while_its_verdict_waits_for_the_database(
    tmp_path: Path,
) -> None:
    """The watch's verdict row is queued, not waited for: with the database locked, the new
    version turned unhealthy still gets its traffic taken away, and the rows follow."""
    async with production(tmp_path, tune=watch_long_checking_often) as prod:
        card, old = await watching(prod)
        since = len(await arm_requests(prod.sandbox))
        with write_lock_held(prod.database) as locked:
            fault = {"version": NEW, "unhealthy": True}
            await prod.sandbox.admin("POST", "/admin/faults/version", fault)
            await traffic_manager_patch(prod.sandbox, since)
            state, actions = stored(locked, card)
            assert state == "watching", state
            assert "health.verdict production failed" not in actions, actions

        await rolled_back_in_order(prod, card, old, ["health.verdict production failed"])


async def test_a_roll_back_click_by_someone_who_may_not_change_prod_moves_nothing(
    running: Production,
) -> None:
    """The click on a watching card is acted on straight from the click's own read of the
    deployment; the permission check still stands in front of the signal."""
    prod = running
    card, old = await watching(prod)
    since = len(await arm_requests(prod.sandbox))
    assert await prod.slack.click(DAVE, card, "Roll back") == 200
    refusal = await prod.slack.wait_for(lambda: prod.slack.response("you can't change prod"))
    assert refusal is not None
    await asyncio.sleep(1)  # a watch that had been told would have switched by now
    assert patches(await arm_requests(prod.sandbox), since) == []
    with contextlib.closing(sqlite3.connect(prod.database)) as connection:
        state, actions = stored(connection, card)
        refused = connection.execute(
            "SELECT environment FROM audit_events WHERE action = 'rollback.refused' AND actor = ?",
            (DAVE,),
        ).fetchall()
    assert state == "watching"
    assert refused == [("prod",)]
    assert "rollback.requested U0DAVE" not in actions, actions

    assert await prod.slack.click(BOB, card, "Roll back") == 200
    await prod.slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Rolled back", card.text
    assert await prod.sandbox.served_versions("prod") == {old}


async def test_killed_after_the_patch_before_its_rows_the_next_serve_finishes_the_rollback(
    running: Production,
) -> None:
    prod = running
    card, old = await watching(prod)
    since = len(await arm_requests(prod.sandbox))
    with write_lock_held(prod.database) as locked:
        assert await prod.slack.click(BOB, card, "Roll back") == 200
        await traffic_manager_patch(prod.sandbox, since)
        for _ in range(200):  # the switch needs no write: it ends with the lock still held
            if await prod.sandbox.served_versions("prod") == {old}:
                break
            await asyncio.sleep(0.05)
        switched = len(patches(await arm_requests(prod.sandbox), since))
        prod.bot.kill()
        assert await prod.bot.stop() == -signal.SIGKILL
        assert stored(locked, card)[0] == "watching"

    await restarted(prod)
    await prod.slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Rolled back", card.text
    assert await prod.sandbox.served_versions("prod") == {old}
    assert len(await prod.sandbox.enabled_endpoints()) == 1
    thread = " ".join(m.text for m in prod.slack.thread(card))
    assert "Resumed after a restart" in thread, thread
    assert "already back on" in thread, thread
    # The resumed job looked before it moved: it found the switch done and asked for none.
    assert len(patches(await arm_requests(prod.sandbox), since)) == switched
    with contextlib.closing(sqlite3.connect(prod.database)) as connection:
        state, actions = stored(connection, card)
    assert state == "rolled_back"
    assert "deployment.finished rolled_back" in actions, actions
    code, out = await prod.audit_verify()
    assert code == 0, out
