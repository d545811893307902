"""`deploybot serve` against a misbehaving world: a hung Azure read, a click Slack sent
without a response_url. The bot is a real process; faults are armed over the sandbox's
admin API."""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Production

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


def admin_url(prod: Production) -> str:
    """The sandbox serves its artifacts beside its admin API."""
    package_url = str(prod.sandbox.config["environments"]["prod"]["artifact"]["package_url"])
    return package_url.split("/artifacts/", 1)[0]


async def arm_fault(prod: Production, fault: dict[str, Any]) -> None:
    verify = ssl.create_default_context(cafile=prod.sandbox.variables["SSL_CERT_FILE"])
    async with httpx.AsyncClient(verify=verify, timeout=10) as http:
        answer = await http.post(f"{admin_url(prod)}/admin/faults/arm", json=fault)
    assert answer.status_code == 200, answer.text


async def restart_with(prod: Production, **tuning: Any) -> None:
    """What a team does to change the config: edit deploybot.yml, restart the bot."""
    assert await prod.bot.stop() == 0
    config = yaml.safe_load(prod.bot.config_file.read_text(encoding="utf-8"))
    config.update(tuning)
    prod.bot.config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    await prod.bot.start()


def azure_requests(metrics: str, operation: str, outcome: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "deploybot_azure_requests_total"
        and s.labels == {"operation": operation, "outcome": outcome}
    )


async def test_a_hung_traffic_manager_read_is_sent_again_and_prod_is_deployed(
    prod: Production,
) -> None:
    slack, sandbox = prod.slack, prod.sandbox
    await restart_with(prod, azure_requests={"timeout": "30s", "attempt_timeout": "1s"})
    assert await slack.command(ALICE, "/deploy prod v1.2.0") == 200
    card = await slack.wait_for(
        lambda: (c := slack.card("v1.2.0")) and "Approve" in c.buttons() and c
    )
    await arm_fault(
        prod,
        {
            "kind": "hang",
            "match": "trafficmanagerprofiles/virtualqueue-production-tm",
            "times": 1,
            "seconds": 35,
        },
    )
    await slack.click(BOB, card, "Approve")
    await slack.wait_for(lambda: "1 of 2" in card.plain())
    await slack.click(CAROL, card, "Approve")
    await slack.wait_for(
        lambda: "Succeeded" in card.plain() and not card.buttons().get("Approve"), timeout=60
    )

    assert await sandbox.enabled_endpoints() == {"green"}
    assert await sandbox.served_versions("prod") == {"v1.2.0"}
    metrics = await prod.bot.metrics()
    assert azure_requests(metrics, "read traffic manager profile", "retry") == 1
    assert azure_requests(metrics, "read traffic manager profile", "error") == 0


async def test_a_rollback_confirm_without_response_url_is_answered_ephemerally(
    prod: Production,
) -> None:
    slack = prod.slack
    assert await slack.command(ALICE, "/rollback dev v1.0.5") == 200
    prompt = await slack.wait_for(lambda: slack.response("Roll back to v1.0.5"))
    button = next(
        e
        for b in prompt["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "rollback.confirm"
    )
    payload = slack.click_payload(ALICE, None, button)
    del payload["response_url"]
    answered = len(slack.responses)

    assert await slack.post(urlencode({"payload": json.dumps(payload)})) == 200
    answer = await slack.wait_for(
        lambda: next((e for e in slack.ephemerals if "is deployment" in str(e["text"])), None)
    )
    assert (answer["channel"], answer["user"]) == ("C0DEPLOYS", ALICE)
    assert len(slack.responses) == answered  # nothing went to a response_url
    rollback = await slack.wait_for(lambda: slack.card("Rollback · dev"))
    await slack.wait_for(lambda: "Succeeded" in rollback.plain(), timeout=60)

    assert await prod.bot.stop() == 0
    logs = "\n".join(prod.bot.logs)
    assert "background task" not in logs, logs
