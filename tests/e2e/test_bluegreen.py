"""The blue-green journey from Slack to Azure and back, on both topologies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.local import LocalStack
from bot.slackemu.screen import render_screen

from .conftest import fast, latest, served_version

PROD_DOOR = "virtualqueue-production-tm"
STAGING = "virtualqueue-staging"


async def approve_prod(stack: LocalStack, text: str = "prod v1.2.0") -> None:
    ws, emu = stack.ws, stack.emu
    await emu.user("U0ALICE").command("/deploy", text, channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    await emu.user("U0BOB").click(card, "Approve")
    await emu.user("U0CAROL").click(ws.message(card.channel, card.ts), "Approve")


async def finished(stack: LocalStack, env: str) -> Any:
    await stack.services.idle()
    return await latest(stack, env)


async def test_prod_traffic_manager_happy_path(stack: LocalStack) -> None:
    await approve_prod(stack)
    d = await finished(stack, "prod")
    assert d.state == "succeeded", (d.steps, d.error)
    assert [s.status for s in d.steps] == ["done"] * len(d.steps)
    assert d.from_version == "v1.1.0"
    assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.2.0"
    card = stack.ws.message(d.card_channel, d.card_ts)
    assert "Succeeded" in card.text
    assert not [b for b in card.blocks if b.get("type") == "actions"]
    thread = "\n".join(m.text for m in stack.ws.thread(d.card_channel, d.card_ts))
    assert "approved (2 of 2)" in thread
    assert "Health checks on green" in thread
    assert "Traffic: blue → green" in thread
    audit = stack.services.store.audit
    calls = await audit.query(deployment_id=d.id, actions=["azure.call"])
    assert {c.details["operation"] for c in calls} >= {
        "update app settings",
        "restart",
        "update traffic manager endpoint",
    }
    assert (await audit.verify()).ok


async def test_staging_slots_happy_path_keeps_the_old_version_in_the_slot(
    stack: LocalStack,
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", "stg v1.2.0", channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    await emu.user("U0BOB").click(card, "Approve")
    d = await finished(stack, "staging")
    assert d.state == "succeeded", (d.steps, d.error)
    assert sb.version(STAGING) == "v1.2.0"
    assert sb.version(STAGING, "green") == "v1.1.0"
    assert await served_version(sb.front_door_url(STAGING)) == "v1.2.0"


async def test_a_version_failing_its_health_gate_leaves_production_untouched(
    stack: LocalStack,
) -> None:
    stack.sandbox.faults.version("v1.3.0", unhealthy=True)
    await approve_prod(stack, "prod v1.3.0")
    d = await finished(stack, "prod")
    assert d.state == "failed"
    failed = [s for s in d.steps if s.status == "failed"]
    assert [s.name for s in failed] in (["wait_version"], ["health_gate"])
    assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.1.0"
    thread = "\n".join(m.text for m in stack.ws.thread(d.card_channel, d.card_ts))
    assert "Production untouched: blue still serves v1.1.0" in thread
    assert (await stack.services.store.locks.get("prod")) is None


def longer_watch(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    for env in mapping["environments"].values():
        env["health"]["watch"] = "20s"
    return mapping


@pytest.mark.parametrize("overrides", [longer_watch])
@pytest.mark.parametrize(
    ("env", "command", "door", "approvers"),
    [("prod", "prod v1.2.0", PROD_DOOR, 2), ("staging", "staging v1.2.0", STAGING, 1)],
)
async def test_a_version_failing_after_the_switch_is_rolled_back(
    stack: LocalStack,
    overrides: Callable[..., Any],
    env: str,
    command: str,
    door: str,
    approvers: int,
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", command, channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    for user in ("U0BOB", "U0CAROL")[:approvers]:
        await emu.user(user).click(ws.message(card.channel, card.ts), "Approve")
    await ws.wait_for_message("#deploys", "Watching", kinds=("edit",), timeout=20)
    sb.faults.version("v1.2.0", unhealthy=True)
    d = await finished(stack, env)
    assert d.state == "rolled_back", (d.steps, d.error)
    reason = str((d.error or {}).get("message"))
    assert "failed its checks" in reason or "error rate" in reason
    assert await served_version(sb.front_door_url(door)) == "v1.1.0"
    screen = render_screen(ws, "alice", "#deploys", thread_ts=d.card_ts).text
    assert "Rolling back to v1.1.0" in screen
    assert "production serves v1.1.0 again" in screen


async def test_errors_the_idle_target_served_before_the_deploy_are_not_the_new_versions(
    stack: LocalStack,
) -> None:
    """Azure Monitor answers in minute points: the minute the watch starts in holds whatever
    green answered before (here, v1.0.0 failing half its requests). The watch counts only what
    is added after it starts, so a healthy v1.2.0 is not rolled back for v1.0.0's errors."""
    green = stack.settings.config.environments["prod"].urls.targets["green"]
    stack.sandbox.faults.version("v1.0.0", error_rate=0.5)
    async with httpx.AsyncClient(timeout=5) as http:
        answers = [(await http.get(f"{green}/api/queues")).status_code for _ in range(60)]
    assert answers.count(500) + answers.count(503) >= 10, answers  # green's minute has errors
    stack.sandbox.faults.clear()
    await approve_prod(stack)
    d = await finished(stack, "prod")
    assert d.state == "succeeded", (d.steps, d.error)
    assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.2.0"
