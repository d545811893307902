"""Two `deploybot serve` replicas on one real PostgreSQL, as a team runs them behind one URL.

Slack reaches whichever replica its load balancer picks; the job runs on exactly one, under a
lease; a replica that dies hands its jobs to the other within the lease time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from storage import Store
from tests.postgres_server import needs_postgres

from .canary_helpers import canaries, canary, traffic
from .conftest import BotProcess, Production, production
from .fake_slack import FakeSlack, Message
from .test_serve_restart import ALICE, BOB, CAROL, in_thread, on_card, outcome

pytestmark = needs_postgres
LEASE_S = 2.0


@contextlib.asynccontextmanager
async def two_replicas(
    tmp_path: Path,
    database_url: str,
    tune: Callable[[dict[str, Any]], None] | None = None,
    lease_s: float = LEASE_S,
) -> AsyncIterator[tuple[Production, BotProcess, BotProcess, asyncio.Task[None]]]:
    """Replica A (the fixture's bot) and replica B: same config, same database, own ports.

    B starts while the test already talks to A (as a second replica joins a running one);
    await the task yielded last before sending B anything."""
    env = {"DEPLOYBOT_DATABASE_URL": database_url, "DEPLOYBOT_JOB_LEASE": f"{lease_s:g}s"}
    async with production(tmp_path, tune=tune, env=env) as prod:
        a = prod.bot
        b = BotProcess(a.mode, a.cwd, a.env, a.config_file)
        b_ready = asyncio.create_task(b.start())
        try:
            yield prod, a, b, b_ready
            await b_ready
        finally:
            if not b_ready.done():
                b_ready.cancel()
            with contextlib.suppress(BaseException):
                await b_ready
            if b.process is not None and b.process.returncode is None:
                await b.stop()


@pytest.fixture
def database_url(new_postgres_database: Callable[[], str]) -> str:
    return new_postgres_database()


@pytest.mark.parametrize(
    ("where", "seen"),
    [(in_thread, "Restart green"), (on_card, "Watching")],
    ids=["before-the-switch", "while-watching"],
)
async def test_sigkill_of_the_replica_running_a_prod_deploy_the_other_takes_it_over(
    tmp_path: Path,
    database_url: str,
    where: Callable[[FakeSlack, Message, str], bool],
    seen: str,
) -> None:
    async with two_replicas(tmp_path, database_url) as (prod, a, b, b_ready):
        slack, sandbox = prod.slack, prod.sandbox
        slack.bot_url = a.url  # the command and both approvals reach A, so A runs the job
        assert await slack.command(ALICE, "/deploy prod v1.2.0") == 200
        card = await slack.wait_for(
            lambda: (c := slack.card("v1.2.0")) and "Approve" in c.buttons() and c
        )
        await b_ready  # B joined while a request was pending; it must not take the job
        await slack.click(BOB, card, "Approve")
        await slack.wait_for(lambda: "1 of 2" in card.plain())
        await slack.click(CAROL, card, "Approve")
        await slack.wait_for(lambda: where(slack, card, seen), timeout=60)
        a.kill()
        killed = time.monotonic()
        slack.bot_url = b.url  # the load balancer stops sending to the dead replica

        await slack.wait_for(lambda: in_thread(slack, card, "took the job over"), timeout=30)
        took_over_s = time.monotonic() - killed
        await slack.wait_for(lambda: outcome(card), timeout=60)
        ending = outcome(card)

        served = await sandbox.served_versions("prod")
        assert len(served) == 1, served
        [live] = served
        assert len(await sandbox.enabled_endpoints()) == 1
        assert (ending == "Succeeded") == (live == "v1.2.0"), (ending, live, card.text)
        note = next(m.text for m in slack.thread(card) if "took the job over" in m.text)
        assert "Resumed after a restart" in note and "stopped renewing its lease" in note, note
        code, out = await prod.audit_verify()
        assert code == 0, out
        async with Store.open(database_url) as store:
            [recovered] = await store.audit.query(actions=["job.recovered"])
            [finished] = await store.audit.query(actions=["deployment.finished"])
        assert recovered.details["taken_over_from"] != recovered.details["replica"]
        assert finished.details["outcome"] == ending.lower().replace(" ", "_")
        print(f"\nB took the job over {took_over_s:.1f} s after A was killed (lease {LEASE_S:g} s)")


async def test_a_click_on_the_other_replica_rolls_back_the_job_it_does_not_run(
    tmp_path: Path, database_url: str
) -> None:
    async with two_replicas(tmp_path, database_url) as (prod, a, b, b_ready):
        slack, sandbox = prod.slack, prod.sandbox
        slack.bot_url = a.url
        await b_ready
        assert await slack.command(ALICE, "/deploy dev v1.2.0") == 200
        card = await slack.wait_for(
            lambda: (c := slack.card("v1.2.0")) and "Roll back" in c.buttons() and c, 60
        )
        slack.bot_url = b.url  # the click reaches B; the job runs on A
        assert await slack.click(ALICE, card, "Roll back") == 200
        await slack.wait_for(lambda: outcome(card) == "Rolled back", timeout=30)
        assert await sandbox.served_versions("dev") == {"v1.1.0"}
        async with Store.open(database_url) as store:
            recovered = await store.audit.query(actions=["job.recovered"])
        assert recovered == []  # A ran it from start to end: the click travelled, not the job
        code, out = await prod.audit_verify()
        assert code == 0, out


async def test_pause_resume_and_abort_clicked_on_the_other_replica_steer_the_canary(
    tmp_path: Path, database_url: str
) -> None:
    async with two_replicas(tmp_path, database_url, tune=canaries) as (prod, a, b, b_ready):
        slack, sandbox = prod.slack, prod.sandbox
        slack.bot_url = a.url
        await b_ready
        async with traffic(sandbox, "dev"):
            card = await canary(prod, "dev", "v2.0.0")
            await slack.wait_for(lambda: in_thread(slack, card, "Stage 1 of 3 started"))
            slack.bot_url = b.url  # every click reaches B; the canary runs on A
            assert await slack.click(ALICE, card, "Pause") == 200
            await slack.wait_for(lambda: "Paused" in card.text)
            assert await slack.click(ALICE, card, "Resume") == 200
            await slack.wait_for(lambda: "Running" in card.text)
            assert await slack.click(ALICE, card, "Abort") == 200
            await slack.wait_for(lambda: outcome(card), timeout=60)
        assert outcome(card) == "Rolled back", card.text
        assert await sandbox.served_versions("dev") == {"v1.1.0"}
        async with Store.open(database_url) as store:
            recovered = await store.audit.query(actions=["job.recovered"])
            asked = await store.audit.query(
                actions=["canary.pause", "canary.resume", "canary.abort"]
            )
        assert recovered == []
        assert [e.action for e in reversed(asked)] == [
            "canary.pause",
            "canary.resume",
            "canary.abort",
        ]


async def test_fifty_commands_spread_over_both_replicas_start_no_duplicate_job(
    tmp_path: Path, database_url: str
) -> None:
    # The default lease: nothing dies here, and a 2 s lease can lapse while a 2-core machine
    # is busy with the burst (then the other replica takes the job over, safely, but this
    # test is about the burst, not takeovers).
    async with two_replicas(tmp_path, database_url, lease_s=10) as (prod, a, b, b_ready):
        slack = prod.slack
        await b_ready

        async def command(replica: BotProcess, http: httpx.AsyncClient) -> int:
            form = slack.command_form(ALICE, "/deploy", "dev v1.2.0", "#deploys")
            raw = urlencode(form).encode()
            headers = {
                **slack.signed_headers(raw),
                "Content-Type": "application/x-www-form-urlencoded",
            }
            answer = await http.post(f"{replica.url}/slack/events", content=raw, headers=headers)
            return answer.status_code

        async with httpx.AsyncClient(timeout=30) as http:
            statuses = await asyncio.gather(*(command((a, b)[n % 2], http) for n in range(50)))
        assert statuses == [200] * 50
        await slack.wait_for(lambda: len(slack.responses) >= 50, timeout=60)
        # One request stored; the others are told it is on its way, or that dev is busy with it.
        answers = Counter(
            "started" if ":rocket:" in text else "on its way" if "already on its way" in text
            else "busy" if "dev is busy" in text else text
            for text in (str(r.get("text", "")) for r in slack.responses)
        )  # fmt: skip
        assert answers["started"] == 1 and set(answers) <= {"started", "on its way", "busy"}, (
            answers
        )
        card = await slack.wait_for(lambda: (c := slack.card("v1.2.0")) and outcome(c) and c, 60)
        assert outcome(card) == "Succeeded", card.text

        async with Store.open(database_url) as store:
            deployments = await store.deployments.latest("dev", limit=100)
            started = await store.audit.query(actions=["step.started"])
            recovered = await store.audit.query(actions=["job.recovered"])
        assert len(deployments) == 1, [d.id for d in deployments]
        per_step = Counter(event.details["step"] for event in started)
        assert per_step and set(per_step.values()) == {1}, per_step
        assert recovered == []
        assert await prod.sandbox.served_versions("dev") == {"v1.2.0"}
        code, out = await prod.audit_verify()
        assert code == 0, out
