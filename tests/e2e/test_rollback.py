"""/rollback, the card's Roll back button, and Azure misbehaving during a swap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack
from commands.jobs.context import JobContext

from .conftest import fast, latest, served_version

PROD_DOOR = "virtualqueue-production-tm"
STAGING = "virtualqueue-staging"


def no_approvals(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    for env in mapping["environments"].values():
        env["approvals"] = {"required": 0}
        env["health"]["watch"] = "30s"
    return mapping


async def idle(stack: LocalStack) -> None:
    await stack.services.idle()


@pytest.mark.parametrize("overrides", [no_approvals])
async def test_the_cards_roll_back_button_switches_back_at_once(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    # Watching first, then the button once the watch has saved when it ends.
    card = await ws.wait_for_message("#deploys", "Roll back offered", kinds=("edit",), timeout=20)
    assert await served_version(sb.front_door_url(PROD_DOOR)) == "v1.2.0"
    await emu.user("U0BOB").click(card, "Roll back", confirm=True)
    await idle(stack)
    d = await latest(stack, "prod")
    assert d.state == "rolled_back"
    assert d.error is None  # a person's request is not an error
    assert JobContext.of(d).rollback_requested_by == "U0BOB"
    assert await served_version(sb.front_door_url(PROD_DOOR)) == "v1.1.0"
    thread = "\n".join(m.text for m in ws.thread(d.card_channel, d.card_ts))
    assert "flip back to blue" in thread
    requested = await stack.services.store.audit.query(actions=["rollback.requested"])
    assert requested[0].actor == "U0BOB"


async def test_rollback_command_confirms_then_flips_back(stack: LocalStack) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await idle(stack)
    assert (await latest(stack, "dev")).state == "succeeded"
    await emu.user("U0ALICE").command("/rollback", "development", channel="#deploys")
    prompt = await ws.wait_for_ephemeral("U0ALICE", "Roll *dev* back")
    assert "from `v1.2.0` to `v1.1.0`" in prompt.text
    await emu.user("U0ALICE").click(prompt, "Roll back to v1.1.0", confirm=True)
    await idle(stack)
    d = await latest(stack, "dev")
    assert d.kind == "rollback"
    assert d.state == "succeeded", d.steps
    assert {s.name: s.status for s in d.steps}["deploy"] == "skipped"
    assert sb.version("virtualqueue-dev") == "v1.1.0"
    thread = "\n".join(m.text for m in ws.thread(d.card_channel, d.card_ts))
    assert "swap" in thread


async def test_rollback_is_refused_for_people_without_the_right(stack: LocalStack) -> None:
    await stack.emu.user("U0DAVE").command("/rollback", "prod", channel="#deploys")
    refusal = await stack.ws.wait_for_ephemeral("U0DAVE", "Sorry")
    assert "you can't change prod" in refusal.text


async def test_rollback_to_a_version_not_on_any_target_redeploys_it(stack: LocalStack) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/rollback", "dev v1.0.5", channel="#deploys")
    prompt = await ws.wait_for_ephemeral("U0ALICE", "Roll *dev* back")
    await emu.user("U0ALICE").click(prompt, "Roll back to v1.0.5", confirm=True)
    await idle(stack)
    d = await latest(stack, "dev")
    assert d.state == "succeeded", d.steps
    assert {s.name: s.status for s in d.steps}["deploy"] == "done"
    assert sb.version("virtualqueue-dev") == "v1.0.5"


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
async def test_arm_throttling_and_errors_during_a_swap_are_handled(
    stack: LocalStack, kind: str
) -> None:
    sb = stack.sandbox
    sb.faults.arm(kind, match="slotsswap", times=1, retry_after=1)
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await idle(stack)
    d = await latest(stack, "dev")
    assert d.state == "succeeded", (d.steps, d.error)
    assert sb.version("virtualqueue-dev") == "v1.2.0"
    statuses = [r.status for r in sb.arm_requests if "slotsswap" in r.path.lower()]
    assert statuses[0] == (429 if kind == "throttle" else 500)


async def test_a_failed_swap_is_reported_with_azures_code(stack: LocalStack) -> None:
    sb = stack.sandbox
    sb.faults.arm("swap_failed", match="slotsswap")
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await idle(stack)
    d = await latest(stack, "dev")
    assert d.state == "failed"
    assert sb.version("virtualqueue-dev") == "v1.1.0"
    thread = "\n".join(m.text for m in stack.ws.thread(d.card_channel, d.card_ts))
    assert "SwapFailed" in thread
