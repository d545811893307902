"""`deploybot serve` killed or stopped with a job in flight, then started on the same database.

Each test runs on a SQLite file and on a fresh database in a real PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage import Store
from tests.conftest import database_backends

from .conftest import BotProcess, Production, production
from .fake_slack import FakeSlack, Message

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
TERMINAL = ("Succeeded", "Rolled back", "Failed")


@pytest.fixture(params=database_backends())
async def prod(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Production]:
    env = {}
    if request.param == "postgresql":
        env["DEPLOYBOT_DATABASE_URL"] = request.getfixturevalue("new_postgres_database")()
    async with production(tmp_path, env=env) as running:
        yield running


async def approved_prod_deploy(slack: FakeSlack) -> Message:
    assert await slack.command(ALICE, "/deploy prod v1.2.0") == 200
    card: Message = await slack.wait_for(
        lambda: (c := slack.card("v1.2.0")) and "Approve" in c.buttons() and c
    )
    await slack.click(BOB, card, "Approve")
    await slack.wait_for(lambda: "1 of 2" in card.plain())
    await slack.click(CAROL, card, "Approve")
    return card


async def restarted(prod: Production) -> BotProcess:
    """A new process on the same database and config, as a service manager would start it."""
    bot = BotProcess(prod.bot.mode, prod.bot.cwd, prod.bot.env, prod.bot.config_file)
    prod.slack.bot_url = bot.url
    await bot.start()
    prod.bot = bot
    return bot


def outcome(card: Message) -> str | None:
    state = card.text.rsplit("—", 1)[-1].strip()
    return state if state in TERMINAL else None


def in_thread(slack: FakeSlack, card: Message, text: str) -> bool:
    return any(text in m.text for m in slack.thread(card))


def on_card(slack: FakeSlack, card: Message, text: str) -> bool:
    return text in card.text


@pytest.mark.parametrize(
    ("where", "seen"),
    [(in_thread, "Restart green"), (on_card, "Watching")],
    ids=["before-the-switch", "while-watching"],
)
async def test_sigkill_mid_deployment_then_restart(
    prod: Production, where: Callable[[FakeSlack, Message, str], bool], seen: str
) -> None:
    slack, sandbox = prod.slack, prod.sandbox
    card = await approved_prod_deploy(slack)
    await slack.wait_for(lambda: where(slack, card, seen), timeout=60)
    prod.bot.kill()
    assert await prod.bot.stop() == -signal.SIGKILL

    await restarted(prod)
    await slack.wait_for(lambda: outcome(card), timeout=90)
    ending = outcome(card)

    # Production serves exactly one version, and the card says which.
    served = await sandbox.served_versions("prod")
    assert len(served) == 1, served
    [live] = served
    assert len(await sandbox.enabled_endpoints()) == 1
    assert (ending == "Succeeded") == (live == "v1.2.0"), (ending, live, card.text)
    thread = " ".join(m.text for m in slack.thread(card))
    assert "Resumed after a restart" in thread, thread
    code, out = await prod.audit_verify()
    assert code == 0, out


async def test_sigterm_pauses_a_job_at_a_safe_point_and_the_next_start_resumes_it(
    prod: Production,
) -> None:
    slack, sandbox = prod.slack, prod.sandbox
    assert await slack.command(ALICE, "/deploy dev v1.2.0") == 200
    card = await slack.wait_for(
        lambda: (c := slack.card("v1.2.0")) and "Watching" in c.plain() and c
    )
    assert await prod.bot.stop(signal.SIGTERM, timeout=30) == 0
    assert "Traceback" not in prod.bot.logs[-1], prod.bot.logs[-1]
    thread = " ".join(m.text for m in slack.thread(card))
    assert "deploybot is stopping: paused at watch" in thread, thread
    assert outcome(card) is None

    await restarted(prod)
    await slack.wait_for(lambda: outcome(card), timeout=60)
    assert outcome(card) == "Succeeded", card.text
    assert await sandbox.served_versions("dev") == {"v1.2.0"}
    code, out = await prod.audit_verify()
    assert code == 0, out


async def test_a_finished_card_a_crash_left_stale_is_redrawn_by_the_next_serve(
    prod: Production,
) -> None:
    slack = prod.slack
    assert await slack.command(ALICE, "/deploy dev v1.2.0") == 200
    card = await slack.wait_for(lambda: (c := slack.card("v1.2.0")) and outcome(c) and c, 60)
    assert outcome(card) == "Succeeded", card.text
    assert await prod.bot.stop() == 0
    # What a crash between the last write and the card's edit leaves: Slack still shows
    # "Watching", and the bot never heard Slack confirm the finished card.
    card.text, card.blocks = "Deploy · dev: v1.1.0 → v1.2.0 — Watching", []
    async with Store.open(prod.bot.env["DEPLOYBOT_DATABASE_URL"]) as store:
        [d] = await store.deployments.latest("dev")
        await store.deployments.update(d.id, card_state="watching")
        await restarted(prod)
        await slack.wait_for(lambda: outcome(card) == "Succeeded", timeout=30)

        # Recorded once Slack has accepted the redraw: the next start has nothing left to redraw.
        deadline = time.monotonic() + 10
        while [x.card_state for x in await store.deployments.latest("dev")] != ["succeeded"]:
            assert time.monotonic() < deadline, "the redraw was never recorded"
            await asyncio.sleep(0.1)
