"""`deploybot serve` calls Slack's Web API over kept-alive connections, not one per call.

slack-sdk opens a session, so a connection (with Slack, a TLS handshake), for every call
unless the client is given one; the bot gives all its clients one session. A dev deploy posts
its card, updates it and writes its thread: every call is counted with the client address it
came from.
"""

from __future__ import annotations

from .conftest import Production
from .test_serve_journey import finished

ALICE = "U0ALICE"


async def test_a_deploy_s_slack_calls_share_a_few_connections(prod: Production) -> None:
    slack = prod.slack
    assert await slack.command(ALICE, "/deploy dev v1.2.0") == 200
    card = await slack.wait_for(lambda: slack.card("v1.2.0"))
    await finished(slack, card, "Succeeded")
    calls, connections = len(slack.peers), len(set(slack.peers))
    assert calls >= 10, slack.summary()
    assert connections <= calls // 3, (connections, calls, [m for m, _ in slack.calls])
