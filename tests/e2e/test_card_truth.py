"""A finished card tells the truth: nothing still running, and every line says how it ended.

Each test reads the final card from the Slack emulator, as a person would see it, and the
stored checklist (what a restarted bot renders from).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack
from bot.slackemu.text import render_message
from storage import Deployment

from .conftest import fast, latest, served_version

PROD_DOOR = "virtualqueue-production-tm"
UNSETTLED = ("⏳", "○")


def watched(mapping: dict[str, Any]) -> dict[str, Any]:
    """No approvals, and a watch long enough to act during it."""
    mapping = fast(mapping)
    for env in mapping["environments"].values():
        env["approvals"] = {"required": 0}
        env["health"]["watch"] = "30s"
    return mapping


async def final_card(stack: LocalStack, env: str) -> tuple[Deployment, list[str]]:
    await stack.services.idle()
    d = await latest(stack, env)
    assert d.is_terminal, (d.state, d.steps)
    assert [s.name for s in d.steps if s.status in ("running", "pending")] == []
    assert d.card_channel and d.card_ts
    card = stack.ws.message(d.card_channel, d.card_ts)
    lines = [line.strip() for line in render_message(card, stack.ws.names()).lines]
    assert not [text for text in lines if text.startswith(UNSETTLED)], lines
    return d, lines


def line(lines: list[str], start: str) -> str:
    found = [text for text in lines if text.startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def thread_text(stack: LocalStack, d: Deployment) -> str:
    assert d.card_channel and d.card_ts
    return "\n".join(m.text for m in stack.ws.thread(d.card_channel, d.card_ts))


async def test_a_successful_deployment_has_every_step_done(stack: LocalStack) -> None:
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    d, lines = await final_card(stack, "dev")
    assert d.state == "succeeded"
    checklist = [text for text in lines if text[:1] in "✓✗–⏳○"]
    assert checklist and all(text.startswith("✓") for text in checklist), lines
    assert not any("Error" in text for text in lines)


async def test_a_failure_before_the_switch_says_where_it_stopped(stack: LocalStack) -> None:
    stack.sandbox.faults.version("v1.3.0", unhealthy=True)
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.3.0", channel="#deploys")
    d, lines = await final_card(stack, "dev")
    assert d.state == "failed"
    failed = line(lines, "✗ Wait for green to report v1.3.0")
    assert "green reports v1.3.0 but /health answers 503 (status Unhealthy) after 3 s" in failed
    assert "still reports v1.3.0" not in "\n".join(lines)
    assert line(lines, "– Health checks on green").endswith("not run: stopped at version wait")
    assert line(lines, "– Switch traffic").endswith("not run: stopped at version wait")
    assert line(lines, "– Watch production").endswith("not run: stopped at version wait")
    thread = thread_text(stack, d)
    assert "Health checks on green" in thread  # the table for the target that failed
    assert "still reports v1.3.0" not in thread


@pytest.mark.parametrize("overrides", [watched])
async def test_an_automatic_rollback_marks_the_watch_failed_with_the_rule(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    await ws.wait_for_message("#deploys", "Watching", kinds=("edit",), timeout=20)
    sb.faults.version("v1.2.0", unhealthy=True)
    d, lines = await final_card(stack, "prod")
    assert d.state == "rolled_back", (d.steps, d.error)
    watch = line(lines, "✗ Watch production")
    assert "failed its checks" in watch or "error rate" in watch
    assert "(rule " in watch
    assert line(lines, "✓ Roll back to v1.1.0")
    assert any(text.startswith("✓ Switch traffic blue → green") for text in lines)
    assert "Rolled back" in "\n".join(lines)
    assert await served_version(sb.front_door_url(PROD_DOOR)) == "v1.1.0"


async def watching_then(stack: LocalStack, roll_back: Callable[[], Any]) -> None:
    ws, emu = stack.ws, stack.emu
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    # The Roll back button appears once the watch has saved when it ends.
    await ws.wait_for_message("#deploys", "Roll back offered", kinds=("edit",), timeout=20)
    await roll_back()


def requested_rollback_is_not_an_error(lines: list[str], who: str) -> None:
    text = "\n".join(lines)
    assert f"Rolled back at the request of @{who}" in text, lines
    assert "Error" not in text
    assert "&lt;@" not in text and "<@" not in text
    watch = line(lines, "✗ Watch production")
    assert "roll back requested" in watch
    assert line(lines, "✓ Roll back to v1.1.0")


@pytest.mark.parametrize("overrides", [watched])
async def test_the_roll_back_button_during_the_watch(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    async def click() -> None:
        d = await latest(stack, "prod")
        assert d.card_channel and d.card_ts
        card = stack.ws.message(d.card_channel, d.card_ts)
        await stack.emu.user("U0BOB").click(card, "Roll back", confirm=True)

    await watching_then(stack, click)
    d, lines = await final_card(stack, "prod")
    assert d.state == "rolled_back"
    assert d.error is None
    requested_rollback_is_not_an_error(lines, "bob")
    assert await served_version(stack.sandbox.front_door_url(PROD_DOOR)) == "v1.1.0"
    assert "Rolling back to v1.1.0: requested by @bob" in "\n".join(
        render_message(m, stack.ws.names()).lines[1].strip()
        for m in stack.ws.thread(str(d.card_channel), str(d.card_ts))[1:]
    )


@pytest.mark.parametrize("overrides", [watched])
async def test_the_rollback_command_during_the_watch(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    async def command() -> None:
        await stack.emu.user("U0BOB").command("/rollback", "prod", channel="#deploys")
        prompt = await stack.ws.wait_for_ephemeral("U0BOB", "Roll *prod* back")
        await stack.emu.user("U0BOB").click(prompt, "Roll back to v1.1.0", confirm=True)

    await watching_then(stack, command)
    d, lines = await final_card(stack, "prod")
    assert d.state == "rolled_back"
    requested_rollback_is_not_an_error(lines, "bob")
