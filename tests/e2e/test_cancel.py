"""`/deploy cancel <env|id>`: a request waiting for approval can be withdrawn."""

from __future__ import annotations

from bot.local import LocalStack

from .conftest import latest


async def request_prod(stack: LocalStack) -> None:
    await stack.emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    await stack.ws.wait_for_message("#deploys", "Waiting for approval")


async def test_the_requester_cancels_by_environment_and_nothing_was_locked(
    stack: LocalStack,
) -> None:
    await request_prod(stack)
    alice = stack.emu.user("U0ALICE")
    # A request waiting for approval does not hold the environment: it is locked at the start.
    assert await stack.services.store.locks.get("prod") is None
    d = await latest(stack, "prod")

    await alice.command("/deploy cancel prod", channel="#deploys")
    answer = await stack.ws.wait_for_ephemeral("U0ALICE", "Cancelled the request")
    assert d.id in answer.text
    await stack.services.idle()
    d = await latest(stack, "prod")
    assert d.state == "cancelled"
    assert await stack.services.store.locks.get("prod") is None
    card = stack.ws.message(*_card(stack))
    assert "Approve" not in str(card.blocks)
    [row] = await stack.services.store.audit.query(actions=["deploy.cancelled"])
    assert row.actor == "U0ALICE"


async def test_an_approver_cancels_by_id_and_others_are_refused(stack: LocalStack) -> None:
    await request_prod(stack)
    d = await latest(stack, "prod")
    await stack.emu.user("U0DAVE").command(f"/deploy cancel {d.id}", channel="#deploys")
    refusal = await stack.ws.wait_for_ephemeral("U0DAVE", "Sorry")
    assert "only its requester or an approver" in refusal.text
    assert (await latest(stack, "prod")).state == "pending_approval"

    await stack.emu.user("U0BOB").command(f"/deploy cancel {d.id}", channel="#deploys")
    await stack.ws.wait_for_ephemeral("U0BOB", "Cancelled the request")
    await stack.services.idle()
    assert (await latest(stack, "prod")).state == "cancelled"


async def test_nothing_to_cancel_is_answered(stack: LocalStack) -> None:
    await stack.emu.user("U0ALICE").command("/deploy cancel staging", channel="#deploys")
    answer = await stack.ws.wait_for_ephemeral("U0ALICE", "Sorry")
    assert "nothing is waiting for approval or in line on staging" in answer.text


def _card(stack: LocalStack) -> tuple[str, str]:
    [card] = [m for m in stack.ws.messages("#deploys") if "v1.2.0" in m.text]
    return card.channel, card.ts
