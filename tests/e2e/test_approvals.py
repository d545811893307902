"""Who may approve, reject and when a request expires."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack

from .conftest import fast, latest


async def request_prod(stack: LocalStack, user: str = "U0ALICE") -> Any:
    await stack.emu.user(user).command("/deploy", "prod v1.2.0", channel="#deploys")
    return await stack.ws.wait_for_message("#deploys", "Waiting for approval")


async def test_self_approval_is_refused_and_names_who_can(stack: LocalStack) -> None:
    card = await request_prod(stack, "U0BOB")
    await stack.emu.user("U0BOB").click(card, "Approve")
    refusal = await stack.ws.wait_for_ephemeral("U0BOB", "Sorry")
    assert "you can't approve your own request" in refusal.text
    assert "Ask <@U0CAROL>" in refusal.text
    d = await latest(stack, "prod")
    assert d.state == "pending_approval"
    assert await stack.services.store.approvals.for_deployment(d.id) == []
    refused = await stack.services.store.audit.query(actions=["approval.refused"])
    assert refused[0].actor == "U0BOB"


async def test_a_click_without_the_right_is_refused(stack: LocalStack) -> None:
    card = await request_prod(stack)
    await stack.emu.user("U0DAVE").click(card, "Approve")
    refusal = await stack.ws.wait_for_ephemeral("U0DAVE", "Sorry")
    assert "you can't approve changes to prod" in refusal.text
    assert "<@U0BOB>" in refusal.text
    assert "<@U0CAROL>" in refusal.text


async def test_a_double_clicked_approve_counts_once(stack: LocalStack) -> None:
    card = await request_prod(stack)
    bob = stack.emu.user("U0BOB")
    await asyncio.gather(
        bob.click(card, "Approve", stale_ok=True), bob.click(card, "Approve", stale_ok=True)
    )
    await stack.services.idle()
    d = await latest(stack, "prod")
    approvals = await stack.services.store.approvals.for_deployment(d.id)
    assert [a.approver for a in approvals] == ["U0BOB"]
    assert d.state == "pending_approval"
    await stack.services.idle()  # also waits for the card edits to be sent
    card_now = stack.ws.message(card.channel, card.ts)
    assert "*Approvals:* 1 of 2" in str(card_now.blocks)


async def test_reject_with_a_reason(stack: LocalStack) -> None:
    card = await request_prod(stack)
    carol = stack.emu.user("U0CAROL")
    await carol.click(card, "Reject")
    await stack.services.idle()
    view = stack.ws.views.top("U0CAROL")
    assert view is not None
    await carol.submit_view(view, {"reason": "not during the sale"})
    await stack.services.idle()
    d = await latest(stack, "prod")
    assert d.state == "rejected"
    card_now = stack.ws.message(card.channel, card.ts)
    assert "Rejected" in card_now.text
    assert not [b for b in card_now.blocks if b.get("type") == "actions"]
    thread = "\n".join(m.text for m in stack.ws.thread(card.channel, card.ts))
    assert "not during the sale" in thread
    assert (await stack.services.store.locks.get("prod")) is None


def quick_expiry(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    mapping["environments"]["prod"]["approvals"]["expires_after"] = "0.5s"
    return mapping


@pytest.mark.parametrize("overrides", [quick_expiry])
async def test_an_unapproved_request_expires(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    card = await request_prod(stack)
    edited = await stack.ws.wait_for_message("#deploys", "Expired", kinds=("edit",), timeout=10)
    assert edited.ts == card.ts
    assert not [b for b in edited.blocks if b.get("type") == "actions"]
    assert (await latest(stack, "prod")).state == "expired"
    await stack.emu.user("U0BOB").click(card, "Approve", stale_ok=True)
    answer = await stack.ws.wait_for_ephemeral("U0BOB", "expired")
    assert "nothing to decide" in answer.text
    assert (await stack.services.store.locks.get("prod")) is None


async def test_every_click_is_audited_granted_or_not(stack: LocalStack) -> None:
    card = await request_prod(stack)
    await stack.emu.user("U0DAVE").click(card, "Approve")
    await stack.emu.user("U0BOB").click(card, "Approve")
    await stack.services.idle()
    clicks = await stack.services.store.audit.query(actions=["click.received"], newest_first=False)
    # Each click is acted on while its row is still being written, so two quick clicks may
    # land in either order; every one of them is there.
    assert sorted((c.actor, c.details["action"]) for c in clicks) == [
        ("U0BOB", "deploy.approve"),
        ("U0DAVE", "deploy.approve"),
    ]
    assert {c.deployment_id for c in clicks} == {(await latest(stack, "prod")).id}
