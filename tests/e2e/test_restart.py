"""The bot dies mid-deployment; a new one on the same database tells the truth and finishes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.local import LocalStack, World, local_bot, local_settings, local_world
from storage import Deployment

from .conftest import fast, served_version

STAGING = "virtualqueue-staging"
PROD_DOOR = "virtualqueue-production-tm"


def unattended(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    for env in mapping["environments"].values():
        env["approvals"] = {"required": 0}
        env["health"]["watch"] = "2s"
    return mapping


@contextlib.asynccontextmanager
async def world_and_db(database_url: str) -> AsyncIterator[tuple[World, str]]:
    async with local_world() as world:
        yield world, database_url


async def deployment(stack: LocalStack, env: str) -> Deployment:
    found = await stack.services.store.deployments.latest(env, limit=1)
    return found[0]


async def until_step(stack: LocalStack, env: str, step: str) -> None:
    """Wait (on Slack's record of card edits) until the job has started ``step``."""

    async def started() -> bool:
        found = await stack.services.store.deployments.latest(env, limit=1)
        return bool(found) and any(s.name == step and s.status == "running" for s in found[0].steps)

    while not await started():
        await stack.ws.wait_for(lambda change: True, since=stack.ws.mark(), timeout=10)


@contextlib.asynccontextmanager
async def crash_then_recover(
    database_url: str,
    env: str,
    command: str,
    at: Callable[[LocalStack], Awaitable[None]],
    while_down: Callable[[World], None] = lambda world: None,
) -> AsyncIterator[tuple[LocalStack, Deployment]]:
    async with world_and_db(database_url) as (world, db):
        settings = local_settings(world, overrides=unattended)
        async with local_bot(world, settings, db, publisher_interval=0.05) as first:
            await first.emu.user("U0ALICE").command("/deploy", command, channel="#deploys")
            await at(first)
            # Leaving the block stops the runner at once: the job is cancelled mid-step.
        while_down(world)
        async with local_bot(world, settings, db, publisher_interval=0.05) as second:
            await second.services.idle()
            d = await deployment(second, env)
            verified = await second.services.store.audit.verify()
            assert verified.ok, verified.problem
            recovered = await second.services.store.audit.query(actions=["job.recovered"])
            assert recovered, "the new runner did not say what it found"
            thread = "\n".join(m.text for m in world.ws.thread(d.card_channel, d.card_ts))
            assert "Resumed after a restart" in thread
            card = world.ws.message(d.card_channel, d.card_ts)
            assert d.state.replace("_", " ").lower() in card.text.lower()
            yield second, d


async def test_killed_while_waiting_for_the_new_version(database_url: str) -> None:
    async def at(stack: LocalStack) -> None:
        stack.sandbox.faults.app(STAGING, "green", slow_start_s=1.0)
        await until_step(stack, "staging", "wait_version")

    async with crash_then_recover(database_url, "staging", "staging v1.2.0", at) as (stack, d):
        assert d.state == "succeeded", d.steps
        assert stack.sandbox.version(STAGING) == "v1.2.0"


@pytest.mark.parametrize("finished_while_down", [True, False])
async def test_killed_mid_swap(database_url: str, finished_while_down: bool) -> None:
    async def at(stack: LocalStack) -> None:
        stack.sandbox.faults.arm("slow_lro", match="slotsswap", polls=0)
        await stack.sandbox.wait_for_arm(
            lambda r: r.method == "POST" and r.path.lower().endswith("/slotsswap"), timeout=10
        )

    def while_down(world: World) -> None:
        if finished_while_down:
            world.sandbox.faults.release_lro()  # Azure finishes the swap without us

    def keep(world: World) -> None:
        while_down(world)
        if not finished_while_down:
            asyncio.get_running_loop().call_later(1.5, world.sandbox.faults.release_lro)

    async with crash_then_recover(database_url, "staging", "staging v1.2.0", at, keep) as (
        stack,
        d,
    ):
        assert d.state == "succeeded", (d.steps, d.error)
        assert stack.sandbox.version(STAGING) == "v1.2.0"
        assert stack.sandbox.version(STAGING, "green") == "v1.1.0"
        assert await served_version(stack.sandbox.front_door_url(STAGING)) == "v1.2.0"


async def test_a_swap_that_fails_in_azure_after_the_crash_leaves_production_untouched(
    database_url: str,
) -> None:
    async def at(stack: LocalStack) -> None:
        stack.sandbox.faults.arm("slow_lro", match="slotsswap", seconds=1.0)
        stack.sandbox.faults.arm("swap_failed", match="slotsswap")
        await stack.sandbox.wait_for_arm(
            lambda r: r.method == "POST" and r.path.lower().endswith("/slotsswap"), timeout=10
        )

    async with crash_then_recover(database_url, "staging", "staging v1.2.0", at) as (stack, d):
        assert d.state == "failed", (d.steps, d.error)
        assert "warm up" in str(d.error), d.error
        assert await served_version(stack.sandbox.front_door_url(STAGING)) == "v1.1.0"
        settled = await stack.services.store.audit.query(actions=["swap.settled"])
        assert [e.details["outcome"] for e in settled] == ["failed"]


async def test_killed_while_watching_prod(database_url: str) -> None:
    async def at(stack: LocalStack) -> None:
        await until_step(stack, "prod", "watch")

    async with crash_then_recover(database_url, "prod", "prod v1.2.0", at) as (stack, d):
        assert d.state == "succeeded", d.steps
        assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.2.0"


async def test_killed_while_rolling_back_finishes_the_rollback(database_url: str) -> None:
    async def at(stack: LocalStack) -> None:
        await until_step(stack, "prod", "watch")
        stack.sandbox.faults.version("v1.2.0", unhealthy=True)
        stack.sandbox.faults.arm("hang", match="trafficmanagerprofiles", times=0)
        await stack.sandbox.faults.until_hanging(timeout=10)

    def while_down(world: World) -> None:
        world.sandbox.faults.clear()  # answers the hung request: too late, the bot is gone
        world.sandbox.faults.version("v1.2.0", unhealthy=True)

    async with crash_then_recover(database_url, "prod", "prod v1.2.0", at, while_down) as (
        stack,
        d,
    ):
        assert d.state == "rolled_back", (d.steps, d.error)
        assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.1.0"


async def test_a_finished_card_a_crash_left_stale_is_redrawn_once_after_a_restart(
    database_url: str,
) -> None:
    async with world_and_db(database_url) as (world, db):
        settings = local_settings(world, overrides=unattended)
        async with local_bot(world, settings, db, publisher_interval=0.05) as first:
            await first.emu.user("U0ALICE").command("/deploy", "staging v1.2.0", channel="#deploys")
            await first.services.idle()
            d = await deployment(first, "staging")
            assert (d.state, d.card_state) == ("succeeded", "succeeded")
            assert d.card_channel is not None and d.card_ts is not None
            # What a crash between the last write and the card's edit leaves behind.
            await first.services.slack.chat_update(
                channel=d.card_channel, ts=d.card_ts, text="Watching production"
            )
            await first.services.store.deployments.update(d.id, card_state="watching")
        async with local_bot(world, settings, db, publisher_interval=0.05) as second:
            await second.services.idle()
            card = world.ws.message(d.card_channel, d.card_ts)
            assert "succeeded" in card.text.lower(), card.text
            since = d.created_at
            assert await second.services.store.deployments.stale_cards(since) == []
