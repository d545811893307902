"""`deploybot socket` as a team runs it: Socket Mode to a Slack of the test's own, the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from .conftest import Production, production

ALICE = "U0ALICE"


@pytest.fixture
async def socket_bot(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, mode="socket") as running:
        yield running


async def test_socket_mode_runs_a_deployment_end_to_end(socket_bot: Production) -> None:
    slack, sandbox = socket_bot.slack, socket_bot.sandbox
    opened = [args for method, args in slack.calls if method == "apps.connections.open"]
    assert opened, slack.calls
    async with httpx.AsyncClient() as http:  # no route takes unsigned Slack events here
        assert (
            await http.post(f"{socket_bot.bot.url}/slack/events", content=b"x")
        ).status_code == 404

    ack = await slack.envelope(
        "slash_commands", slack.command_form(ALICE, "/deploy", "dev v1.2.0", "#deploys")
    )
    assert ack["envelope_id"]
    card = await slack.wait_for(
        lambda: (c := slack.card("v1.2.0")) and "Succeeded" in c.text and c, timeout=60
    )
    assert "Watch production" in card.plain()
    assert await sandbox.served_versions("dev") == {"v1.2.0"}

    roll_back = card.buttons()
    assert "Roll back" not in roll_back  # the watch is over: the card offers nothing stale
    stopped = await socket_bot.bot.stop()
    assert stopped == 0
    assert "Traceback" not in socket_bot.bot.logs[-1], socket_bot.bot.logs[-1]
