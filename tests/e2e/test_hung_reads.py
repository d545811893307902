"""A deployment during which one ARM read (or the restart) hangs: it is sent again.

Azure sometimes holds a request far longer than the bot's per-attempt timeout; the sandbox's
``hang`` fault holds it 35 s and then carries it out, as Azure does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.local import LocalStack

from .conftest import fast, latest, served_version

PROD_DOOR = "virtualqueue-production-tm"
STAGING = "virtualqueue-staging"


def short_attempts(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = fast(mapping)
    mapping["azure_requests"] = {"timeout": "30s", "attempt_timeout": "1s"}
    return mapping


@pytest.mark.parametrize("overrides", [short_attempts])
@pytest.mark.parametrize(
    ("env", "command", "approvers", "door", "match", "operations"),
    [
        (
            "prod",
            "prod v1.2.0",
            ("U0BOB", "U0CAROL"),
            PROD_DOOR,
            "trafficmanagerprofiles/virtualqueue-production-tm",
            {"read traffic manager profile"},
        ),
        (
            "staging",
            "staging v1.2.0",
            ("U0BOB",),
            STAGING,
            f"sites/{STAGING}/slots/green",
            # The site and its settings are read together; whichever arrives first is held.
            {"read site", "read app settings"},
        ),
        (
            # Not a read, but a restart repeated, even late, restarts on the same settings.
            "prod",
            "prod v1.2.0",
            ("U0BOB", "U0CAROL"),
            PROD_DOOR,
            "sites/virtualqueue-production-green/restart",
            {"restart"},
        ),
    ],
    ids=["prod-profile", "staging-slot", "prod-restart"],
)
async def test_a_hung_request_is_sent_again_and_the_deployment_carries_on(
    stack: LocalStack,
    overrides: Callable[..., Any],
    env: str,
    command: str,
    approvers: tuple[str, ...],
    door: str,
    match: str,
    operations: set[str],
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    await emu.user("U0ALICE").command("/deploy", command, channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    sb.faults.arm("hang", match=match, times=1, seconds=35)
    for user in approvers:
        await emu.user(user).click(ws.message(card.channel, card.ts), "Approve")
    await stack.services.idle()
    d = await latest(stack, env)

    assert d.state == "succeeded", (d.steps, d.error)
    assert await served_version(sb.front_door_url(door)) == "v1.2.0"
    assert sb.faults.hanging == 1, "the abandoned request is still held: nobody waited for it"
    calls = await stack.services.store.audit.query(deployment_id=d.id, actions=["azure.call"])
    timeouts = [c.details for c in calls if c.details["error_code"] == "Timeout"]
    assert len(timeouts) == 1, timeouts
    assert timeouts[0]["outcome"] == "retry"
    assert timeouts[0]["operation"] in operations
