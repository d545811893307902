"""Promotion order: prod takes only a version that succeeded on staging, unless --force."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack

from .conftest import fast, latest

SLOW = 30.0


def staging_first(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    mapping["environments"]["prod"]["requires"] = ["staging"]
    return mapping


async def say(stack: LocalStack, user: str, text: str, expect: str) -> str:
    since = stack.ws.mark()
    await stack.emu.user(user).command("/deploy", text, channel="#deploys")
    return (await stack.ws.wait_for_ephemeral(user, expect, since=since, timeout=SLOW)).text


@pytest.mark.parametrize("overrides", [staging_first])
async def test_prod_refuses_a_version_staging_has_not_run_and_takes_it_after(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    refusal = await say(stack, "U0ALICE", "prod v1.2.0", "Sorry")
    assert "v1.2.0 has not succeeded on staging; deploy it there first or add --force" in refusal
    assert await stack.services.store.deployments.latest("prod") == []
    [row] = await stack.services.store.audit.query(actions=["deploy.refused"])
    assert row.details["reason"] == "promotion order"
    assert row.details["missing"] == ["staging"]

    # Once it has succeeded on staging, prod takes it (tests/storage: what counts as that).
    await say(stack, "U0ALICE", "staging v1.2.0", "needs 1 approval")
    staging = await latest(stack, "staging")
    await stack.emu.user("U0BOB").click_latest("#deploys", "Approve")
    await stack.services.idle()
    assert (await latest(stack, "staging")).state == "succeeded", staging.steps
    await say(stack, "U0ALICE", "prod v1.2.0", "needs 2 approval")
    assert (await latest(stack, "prod")).state == "pending_approval"
    assert await stack.services.store.audit.query(actions=["promotion.override"]) == []


@pytest.mark.parametrize("overrides", [staging_first])
async def test_force_skips_the_promotion_order_with_the_normal_approvals_audited(
    stack: LocalStack, overrides: Callable[..., Any]
) -> None:
    await say(stack, "U0ALICE", "prod v1.3.0 --force", "needs 2 approval")
    d = await latest(stack, "prod")
    assert d.state == "pending_approval" and d.approvals_required == 2
    [override] = await stack.services.store.audit.query(actions=["promotion.override"])
    assert override.actor == "U0ALICE"
    assert override.deployment_id == d.id
    assert override.details == {"version": "v1.3.0", "missing": ["staging"]}
    [card] = [m for m in stack.ws.messages("#deploys") if d.id in str(m.blocks)]
    assert "--force: not yet succeeded on staging" in str(card.blocks)
    for lead in ("U0BOB", "U0CAROL"):
        await stack.emu.user(lead).click(stack.ws.message(card.channel, card.ts), "Approve")
    await stack.services.idle()
    assert (await latest(stack, "prod")).state == "succeeded"
