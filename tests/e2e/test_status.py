"""/deploy status and history against live Azure state."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from bot.local import LocalStack
from commands.status_board import StatusBoard, _OneAtATime
from storage import Store


async def test_status_shows_live_versions_traffic_and_monitor_status(stack: LocalStack) -> None:
    await stack.emu.user("U0DAVE").command("/deploy", "status", channel="#deploys")
    status = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments")
    assert "blue `v1.1.0` 100% (Online)" in status.text
    assert "green `v1.0.0` 0% (Disabled)" in status.text
    assert "production `v1.1.0` 100%" in status.text


async def test_status_under_load_reads_azure_once_and_audits_no_reads(stack: LocalStack) -> None:
    before = len(stack.sandbox.arm_requests)
    for _ in range(5):
        await stack.emu.user("U0DAVE").command("/deploy", "status prod", channel="#deploys")
    await stack.services.idle()
    profile_reads = [
        r for r in stack.sandbox.arm_requests[before:] if "trafficmanagerprofiles" in r.path.lower()
    ]
    assert len(profile_reads) == 1
    assert await stack.services.store.audit.query(actions=["azure.call"]) == []


async def test_history_after_a_deploy(stack: LocalStack) -> None:
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await stack.services.idle()
    await stack.emu.user("U0DAVE").command("/deploy", "history dev", channel="#deploys")
    history = await stack.ws.wait_for_ephemeral("U0DAVE", "Recent deployments")
    assert "*dev*  `v1.1.0` → `v1.2.0`  deploy bluegreen by <@U0ALICE> — succeeded" in history.text


async def test_many_statuses_at_once_share_one_azure_read_and_show_its_age(
    stack: LocalStack,
) -> None:
    before, posted = len(stack.sandbox.arm_requests), len(stack.ws.response_posts)
    await asyncio.gather(
        *(
            stack.emu.user("U0DAVE").command("/deploy", "status prod", channel="#deploys")
            for _ in range(20)
        )
    )
    await stack.services.idle()
    profile_reads = [
        r for r in stack.sandbox.arm_requests[before:] if "trafficmanagerprofiles" in r.path.lower()
    ]
    assert len(profile_reads) == 1
    answers = [str(p.payload) for p in stack.ws.response_posts[posted:]]
    assert len(answers) == 20
    assert all("Environments" in a for a in answers)
    assert all(re.search(r"read \d+(ms|\.\ds|s) ago", a) for a in answers), answers[0]


async def test_a_lock_shows_in_the_very_next_status(stack: LocalStack) -> None:
    dave, alice = stack.emu.user("U0DAVE"), stack.emu.user("U0ALICE")
    await dave.command("/deploy", "status dev", channel="#deploys")
    await stack.ws.wait_for_ephemeral("U0DAVE", "Environments")
    await alice.command("/deploy", "lock dev db migration", channel="#deploys")
    await stack.ws.wait_for_ephemeral("U0ALICE", "db migration")
    mark = stack.ws.mark()
    await dave.command("/deploy", "status dev", channel="#deploys")
    status = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments", since=mark)
    assert "held by <@U0ALICE> for a manual lock: db migration" in status.text


async def test_a_finished_deployment_is_read_from_azure_before_the_next_status(
    stack: LocalStack,
) -> None:
    dave = stack.emu.user("U0DAVE")
    await dave.command("/deploy", "status dev", channel="#deploys")
    first = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments")
    assert "live `v1.1.0`" in first.text
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await stack.services.idle()
    mark = stack.ws.mark()
    await dave.command("/deploy", "status dev", channel="#deploys")
    status = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments", since=mark)
    assert "live `v1.2.0`" in status.text
    assert "in flight" not in status.text


async def test_the_first_status_is_answered_from_the_reads_made_at_start_up(
    stack: LocalStack,
) -> None:
    """The board reads Azure as the bot starts; a status asked while Azure hangs (every
    profile read held 35 s) is answered at once from those reads."""
    sb = stack.sandbox

    def profile_reads() -> int:
        return sum("trafficmanagerprofiles" in r.path.lower() for r in sb.arm_requests)

    for _ in range(200):  # nobody has asked for a status yet
        if profile_reads():
            break
        await asyncio.sleep(0.05)
    assert profile_reads(), "the board did not read Azure at start-up"
    await asyncio.gather(*stack.services.desk.board.warm())  # held, whatever read it
    sb.faults.arm("hang", match="trafficmanagerprofiles", times=5, seconds=35)
    await stack.emu.user("U0DAVE").command("/deploy", "status prod", channel="#deploys")
    status = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments", timeout=5)
    assert "blue `v1.1.0` 100% (Online)" in status.text


async def test_another_replicas_change_shows_within_the_ttl_and_nobody_waits_for_it(
    stack: LocalStack, database_url: str
) -> None:
    """Rows another replica commits are not seen as they land: once the records are
    ``records_ttl`` old, the held ones answer while one re-read runs behind them."""
    services = stack.services
    board = StatusBoard(
        stack.settings.config,
        services.store,
        services.runner.tools.platform,
        services.clock,
        records_ttl=timedelta(seconds=0.2),
    )
    try:
        first = await board.records()
        assert "dev" not in first.locks
        async with Store.open(database_url) as other_replica:
            await other_replica.locks.acquire("dev", "U0ALICE", kind="manual", reason="db work")
        await asyncio.sleep(0.3)
        assert await board.records() is first, "an answer waited for the re-read"
        for _ in range(100):  # the re-read it started lands
            if "dev" in (found := await board.records()).locks:
                break
            await asyncio.sleep(0.05)
        assert found.locks["dev"].reason == "db work"
        # A change this process saw (its own audit row) is read before the next answer.
        await services.store.locks.release("dev")
        released = await services.store.audit.append("U0ALICE", "lock.released", environment="dev")
        board.observe(released)
        assert "dev" not in (await board.records()).locks
    finally:
        await board.close()


async def test_closing_the_board_lets_a_read_in_flight_finish_and_cancels_a_hung_one() -> None:
    """A read cancelled mid-query took its connection's reset with it (SQLAlchemy logged
    "Exception during reset" when a bot stopped during its start-up reads)."""
    finished: list[str] = []

    async def read(seconds: float) -> str:
        await asyncio.sleep(seconds)
        finished.append(f"{seconds}")
        return "read"

    short, hung = _OneAtATime[str](), _OneAtATime[str]()
    short_task, hung_task = short.start(lambda: read(0.05)), hung.start(lambda: read(60))
    await short.close()
    assert short_task.result() == "read"
    await hung.close(grace=0.05)
    assert hung_task.cancelled()
    assert finished == ["0.05"]
