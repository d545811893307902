"""The blue-green journey from Slack to Azure and back, on both topologies."""

from __future__ import annotations

from bot.local import LocalStack

from .conftest import latest, served_version


async def test_prod_traffic_manager_happy_path(stack: LocalStack) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    alice, bob, carol = emu.user("U0ALICE"), emu.user("U0BOB"), emu.user("U0CAROL")
    await alice.command("/deploy", "prod v1.2.0", channel="#deploys")
    card = await ws.wait_for_message("#deploys", "v1.2.0")
    await bob.click(card, "Approve")
    await carol.click(ws.message(card.channel, card.ts), "Approve")
    assert stack.services.runner is not None
    await stack.services.runner.idle()
    d = await latest(stack, "prod")
    assert d.state == "succeeded", (d.steps, d.error)
    assert await served_version(sb.front_door_url("virtualqueue-production-tm")) == "v1.2.0"
    assert (await stack.services.store.audit.verify()).ok
