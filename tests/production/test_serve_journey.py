"""`deploybot serve` as a team runs it: approvals, a deployment, a rollback, its metrics."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from .conftest import Production
from .fake_slack import FakeSlack, Message

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"


async def request(slack: FakeSlack, user: str, line: str, version: str) -> Message:
    assert await slack.command(user, line) == 200
    card: Message = await slack.wait_for(
        lambda: (c := slack.card(version)) and "Approve" in c.buttons() and c
    )
    return card


async def finished(slack: FakeSlack, card: Message, words: str, timeout: float = 90) -> str:  # noqa: ASYNC109
    await slack.wait_for(
        lambda: words in card.plain() and not card.buttons().get("Approve"), timeout=timeout
    )
    return card.plain()


async def test_prod_journey_with_two_lead_approvals(prod: Production) -> None:
    slack, sandbox = prod.slack, prod.sandbox
    assert await sandbox.enabled_endpoints() == {"blue"}

    # A lead may not approve their own request (staging needs one lead).
    own = await request(slack, BOB, "/deploy staging v1.2.0", "v1.2.0")
    assert await slack.click(BOB, own, "Approve") == 200
    refusal = await slack.wait_for(lambda: slack.ephemeral_to(BOB, "your own request"))
    assert "Ask <@U0CAROL>" in str(refusal)
    assert await slack.command(BOB, "/deploy cancel staging") == 200
    await slack.wait_for(lambda: slack.response("Cancelled the request"))
    await finished(slack, own, "Cancelled")

    card = await request(slack, ALICE, "/deploy prod v1.2.0", "v1.2.0")
    assert card.channel == "C0DEPLOYS"
    assert await slack.click(DAVE, card, "Approve") == 200
    await slack.wait_for(lambda: slack.ephemeral_to(DAVE, "you can't approve changes to prod"))
    await slack.click(BOB, card, "Approve")
    await slack.wait_for(lambda: "1 of 2" in card.plain())
    await slack.click(CAROL, card, "Approve")
    text = await finished(slack, card, "Succeeded")
    assert "v1.1.0" in text and "v1.2.0" in text

    # Ground truth, read through the official SDK and the public host.
    assert await sandbox.enabled_endpoints() == {"green"}
    assert await sandbox.served_versions("prod") == {"v1.2.0"}
    steps = [m.text for m in slack.thread(card)]
    assert any("Health checks on green" in s for s in steps), steps

    # /rollback asks first; the confirm button puts v1.1.0 back.
    assert await slack.command(ALICE, "/rollback prod") == 200
    confirm = await slack.wait_for(lambda: slack.response("Roll back to v1.1.0"))
    button = next(
        e
        for b in confirm["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "rollback.confirm"
    )
    assert await slack.click_button(ALICE, button) == 200
    rollback = await slack.wait_for(
        lambda: (c := slack.card("Rollback · prod")) and c.ts != card.ts and c
    )
    await finished(slack, rollback, "Succeeded")
    assert await sandbox.served_versions("prod") == {"v1.1.0"}
    assert await sandbox.enabled_endpoints() == {"blue"}

    # The bot's own metrics agree with what happened.
    series = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(await prod.bot.metrics())
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return series.get((name, tuple(sorted(labels.items()))), 0.0)

    assert (
        value(
            "deploybot_deployments_total",
            environment="prod",
            strategy="bluegreen",
            outcome="succeeded",
        )
        == 2
    )
    assert (
        value(
            "deploybot_deployments_total",
            environment="staging",
            strategy="bluegreen",
            outcome="cancelled",
        )
        == 1
    )
    assert value("deploybot_rollbacks_total", environment="prod", trigger="manual") == 1
    assert value("deploybot_approval_wait_seconds_count", environment="prod") == 1
    assert (
        value(
            "deploybot_deployment_duration_seconds_count", environment="prod", outcome="succeeded"
        )
        == 2
    )
    assert value("deploybot_jobs_in_flight") == 0
    assert value("deploybot_slack_ack_seconds_count") >= 8
    swaps = [k for k in series if k[0] == "deploybot_azure_requests_total"]
    assert any(dict(k[1]).get("outcome") == "ok" for k in swaps), swaps

    code, out = await prod.audit_verify()
    assert code == 0, out
    assert re.search(r"\d+ row", out)
