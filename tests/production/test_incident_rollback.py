"""[Roll back to vX] from the incident thread, through `deploybot serve` as a process: only
the environment's deployers may click it, the dialog names what Azure serves now, a newer
deployment since the alert stops it, and the thread links to the rollback's card and says
when traffic is back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.web.aio import WebSiteManagementClient
from azure.mgmt.web.models import StringDictionary

from .conftest import Production, SandboxProcess, production
from .fake_slack import FakeSlack, Message
from .test_incidents import (
    ALICE,
    BOB,
    TOKEN,
    audit_rows,
    deploy,
    fast_prod,
    incident_card,
    post,
    raw,
    thread_text,
)

PROD_RG = "rg-virtualqueue-prod"


def deployers_only(config: dict[str, Any]) -> None:
    """alice deploys prod; bob and carol only approve (as many teams split it)."""
    fast_prod(config)
    config["environments"]["prod"]["deployers"] = ["deployers"]
    config["environments"]["prod"]["approvals"]["approvers"] = ["leads"]


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    env = {"DEPLOYBOT_ALERT_TOKEN": TOKEN}
    async with production(tmp_path, tune=deployers_only, env=env) as p:
        yield p


def firing_now() -> bytes:
    """The captured Alertmanager firing, starting now (it is what a fresh alert looks like)."""
    body = json.loads(raw("alertmanager-firing.json"))
    body["alerts"][0]["startsAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(body).encode()


async def alert_card(prod: Production) -> Message:
    answer = await post(prod, "alertmanager", firing_now())
    assert answer.status_code == 200 and answer.json()["outcome"] == "opened", answer.text
    slack = prod.slack
    card: Message = await prod.slack.wait_for(
        lambda: (
            (c := incident_card(slack, "5xx rate above 5%")) and "Acknowledge" in c.buttons() and c
        )
    )
    return card


async def set_version_by_hand(sandbox: SandboxProcess, app: str, version: str) -> None:
    """What someone does in the portal: change the app's APP_VERSION outside deploybot."""
    v = sandbox.variables
    async with (
        sandbox.credential() as credential,
        WebSiteManagementClient(
            credential,
            v["AZURE_SUBSCRIPTION_ID"],
            base_url=v["AZURE_RESOURCE_MANAGER_URL"],
            connection_verify=v["SSL_CERT_FILE"],
            retry_total=0,
        ) as web,
    ):
        settings = await web.web_apps.list_application_settings(PROD_RG, app)
        properties = {**(settings.properties or {}), "APP_VERSION": version}
        await web.web_apps.update_application_settings(
            PROD_RG, app, StringDictionary(properties=properties)
        )


def rollback_cards(slack: FakeSlack) -> list[Message]:
    return [m for m in slack.messages.values() if m.thread_ts is None and "Rollback" in m.text]


async def test_deployers_only_then_linked_rollback_restores_traffic(running: Production) -> None:
    prod, slack, sandbox = running, running.slack, running.sandbox
    await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
    # Someone hot-fixes the live app by hand: the card must show what Azure serves.
    await set_version_by_hand(sandbox, "virtualqueue-production-green", "v1.2.1")
    card = await alert_card(prod)
    await slack.wait_for(lambda: "live `v1.2.1` (read from Azure)" in card.plain())
    button = card.buttons()["Roll back to v1.1.0"]
    dialog = json.dumps(button["confirm"])
    assert "from `v1.2.1` to `v1.1.0`" in dialog, dialog

    # bob approves prod changes but does not deploy them: refused, told whom to ask, audited.
    assert await slack.click(BOB, card, "Roll back to v1.1.0") == 200
    refusal = await slack.wait_for(
        lambda: slack.ephemeral_to(BOB, "you can't roll back prod: only its deployers can")
    )
    assert refusal.get("response_type", "ephemeral") == "ephemeral"
    assert "replace_original" in refusal and not refusal["replace_original"]
    assert "U0ALICE" in json.dumps(refusal)  # who to ask
    refused = audit_rows(prod, "incident.rollback_refused")
    assert [(r["actor"], r["reason"]) for r in refused] == [
        (BOB, "you can't roll back prod: only its deployers can")
    ]
    assert not rollback_cards(slack)

    # alice may: the thread links to the rollback's card, then says when traffic is back.
    assert await slack.click(ALICE, card, "Roll back to v1.1.0") == 200
    link_line: Message = await slack.wait_for(
        lambda: next((m for m in slack.thread(card) if "live:" in m.text), None)
    )
    linked = json.dumps(link_line.blocks)
    permalink = linked.split("<", 1)[1].split("|", 1)[0]
    target = slack.by_permalink(permalink)
    assert target is not None and target.thread_ts is None, permalink
    assert target is rollback_cards(slack)[0] and "v1.1.0" in target.text
    await slack.wait_for(
        lambda: "Traffic back on v1.1.0 after" in thread_text(slack, card), timeout=60
    )
    assert await sandbox.served_versions("prod") == {"v1.1.0"}
    await slack.wait_for(lambda: "live `v1.1.0` (read from Azure)" in card.plain())
    assert "<@" not in thread_text(slack, card)


async def test_a_newer_deployment_since_the_alert_stops_the_click(running: Production) -> None:
    prod, slack, sandbox = running, running.slack, running.sandbox
    await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
    # Azure does not answer while the alert comes in: the card says whose word it has.
    hang = {"kind": "hang", "times": 0, "match": "/sites/virtualqueue-production"}
    await sandbox.admin("POST", "/admin/faults/arm", hang)
    card = await alert_card(prod)
    assert "live `v1.2.0` (deploybot's last deployment: Azure did not answer)" in card.plain()
    assert "Roll back to v1.1.0" in card.buttons()
    await sandbox.admin("DELETE", "/admin/faults")
    # The team fixes forward before anyone clicks.
    await deploy(slack, "/deploy prod v1.3.0", "v1.3.0")

    assert await slack.click(ALICE, card, "Roll back to v1.1.0") == 200
    guard = await slack.wait_for(
        lambda: slack.ephemeral_to(ALICE, "a newer deployment exists since this alert: v1.3.0")
    )
    assert "/rollback prod v1.1.0" in json.dumps(guard)  # the way to do it anyway
    assert [r["reason"] for r in audit_rows(prod, "incident.rollback_refused")] == [
        "newer deployment"
    ]
    assert not rollback_cards(slack)
    assert await sandbox.served_versions("prod") == {"v1.3.0"}
    # The next drawing of the card asks Azure again, and Azure answers now; the button goes.
    assert await slack.click(ALICE, card, "Acknowledge") == 200
    await slack.wait_for(lambda: "live `v1.3.0` (read from Azure)" in card.plain())
    assert set(card.buttons()) == {"Unacknowledge", "Resolve"}
    assert "No rollback button: a newer deployment exists since this alert" in card.plain()
