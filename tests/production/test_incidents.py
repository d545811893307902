"""Incidents through `deploybot serve` as a process: every payload in tests/fixtures/alerts
POSTed to /alerts/*, the incident card in #incidents, and its buttons clicked as Slack does."""

from __future__ import annotations

import asyncio
import copy
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Production, production
from .fake_slack import FakeSlack, Message

ALICE, BOB, DAVE = "U0ALICE", "U0BOB", "U0DAVE"
TOKEN = "alert-t0ken"
ALERTS = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"


def raw(name: str) -> bytes:
    return (ALERTS / name).read_bytes()


def fast_prod(config: dict[str, Any]) -> None:
    """No approvals on prod, so a test can deploy there in one command; no automatic
    rollback, so the button is what rolls back."""
    config["environments"]["prod"]["approvals"] = {"required": 0}
    config["incidents"]["auto_rollback_within"] = None


def auto_prod(config: dict[str, Any]) -> None:
    fast_prod(config)
    config["environments"]["prod"]["incidents"] = {"auto_rollback_within": "10m"}


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Production]:
    async with production(tmp_path, tune=fast_prod, env={"DEPLOYBOT_ALERT_TOKEN": TOKEN}) as p:
        yield p


async def post(
    prod: Production,
    source: str,
    body: bytes,
    *,
    token: str | None = TOKEN,
    query: str = "",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None and not query:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(timeout=20) as http:
        return await http.post(
            f"{prod.bot.url}/alerts/{source}{query}", content=body, headers=headers
        )


def incident_card(slack: FakeSlack, text: str) -> Message | None:
    found = [
        m
        for m in slack.messages.values()
        if m.channel == "C0INCIDENTS" and m.thread_ts is None and text in m.plain()
    ]
    return found[-1] if found else None


def thread_text(slack: FakeSlack, card: Message) -> str:
    return "\n".join(m.text for m in slack.thread(card))


async def deploy(slack: FakeSlack, line: str, version: str) -> Message:
    assert await slack.command(ALICE, line) == 200
    card: Message = await slack.wait_for(lambda: (c := slack.card(version)) and c)
    await slack.wait_for(lambda: "Succeeded" in card.plain(), timeout=120)
    return card


def refire(starts: str) -> bytes:
    body = json.loads(raw("alertmanager-firing.json"))
    body["alerts"][0]["startsAt"] = starts
    return json.dumps(body).encode()


def resolve(starts: str) -> bytes:
    """The captured resolve, for the episode of the first instance that began at ``starts``."""
    body = json.loads(raw("alertmanager-resolved.json"))
    body["alerts"][0]["startsAt"] = starts
    return json.dumps(body).encode()


def audit_rows(prod: Production, action: str) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{prod.database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT actor, environment, details FROM audit_events WHERE action = ? ORDER BY seq",
            (action,),
        ).fetchall()
    return [{"actor": a, "environment": e, **json.loads(d)} for a, e, d in rows]


async def test_refusals_lose_nothing(running: Production) -> None:
    prod, body = running, raw("alertmanager-firing.json")
    missing = await post(prod, "alertmanager", body, token=None)
    assert missing.status_code == 401 and "missing token" in missing.json()["error"]
    wrong = await post(prod, "alertmanager", body, token="nope")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "wrong token")
    bad = await post(prod, "alertmanager", b'{"version": "4", "groupKey": "g", "alerts": []}')
    assert (bad.status_code, bad.json()["error"]) == (400, "alerts must not be empty")
    not_json = await post(prod, "grafana", b"<html>")
    assert (not_json.status_code, not_json.json()["error"]) == (400, "body is not JSON")
    huge = await post(prod, "azure-monitor", b"[" + b" " * (600 * 1024) + b"]")
    assert huge.status_code == 413
    refused = audit_rows(prod, "alert.refused")
    assert [r["status"] for r in refused] == [401, 401, 400, 400, 413]
    assert not [m for m in prod.slack.messages.values() if m.channel == "C0INCIDENTS"]
    # The token also works in the URL, for senders that cannot set headers.
    ok = await post(prod, "alertmanager", body, query=f"?token={TOKEN}")
    assert ok.status_code == 200 and ok.json()["outcome"] == "opened"


async def test_incident_thread_from_alert_to_rollback(running: Production) -> None:
    prod, slack, sandbox = running, running.slack, running.sandbox
    await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
    assert await sandbox.served_versions("prod") == {"v1.2.0"}

    answer = await post(prod, "alertmanager", raw("alertmanager-firing.json"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "opened" and answer.json()["environment"] == "prod"
    card: Message = await slack.wait_for(
        lambda: (
            (c := incident_card(slack, "5xx rate above 5%")) and "Acknowledge" in c.buttons() and c
        )
    )
    buttons = card.buttons()
    assert set(buttons) == {"Roll back to v1.1.0", "Acknowledge", "Resolve"}
    confirm = json.dumps(buttons["Roll back to v1.1.0"]["confirm"])
    assert "v1.2.0" in confirm and "v1.1.0" in confirm
    text = card.plain()
    assert "CRITICAL" in text and "label env=prod" in text
    assert "`v1.1.0` → `v1.2.0` by `U0ALICE`" in text  # the last deployment, no mention

    # The same alert in a new episode joins the thread.
    again = await post(prod, "alertmanager", refire("2026-11-21T20:45:00Z"))
    assert again.json() == {
        "ok": True,
        "incident": answer.json()["incident"],
        "outcome": "joined",
        "environment": "prod",
    }
    await slack.wait_for(lambda: "fired again ×2" in thread_text(slack, card))

    # Acknowledge ↔ Unacknowledge.
    assert await slack.click(BOB, card, "Acknowledge") == 200
    await slack.wait_for(lambda: "Unacknowledge" in card.buttons())
    await slack.wait_for(lambda: "Acknowledged by `U0BOB`" in thread_text(slack, card))
    assert "<@" not in thread_text(slack, card)

    # Only deployers of prod may roll it back.
    assert await slack.click(DAVE, card, "Roll back to v1.1.0") == 200
    await slack.wait_for(lambda: slack.ephemeral_to(DAVE, "you can't roll back prod"))
    assert await slack.click(ALICE, card, "Roll back to v1.1.0") == 200
    await slack.wait_for(lambda: "started a rollback of prod" in thread_text(slack, card))
    await slack.wait_for(
        lambda: "Traffic back on v1.1.0 after" in thread_text(slack, card), timeout=120
    )
    assert await sandbox.served_versions("prod") == {"v1.1.0"}
    await slack.wait_for(lambda: "Roll back to v1.1.0" not in card.buttons())
    await slack.wait_for(lambda: "mitigated after" in card.plain())

    # The resolve closes the incident; a new episode within the cool-down reopens it.
    resolved = await post(prod, "alertmanager", resolve("2026-11-21T20:45:00Z"))
    assert resolved.status_code == 200
    await slack.wait_for(lambda: "(Resolved)" in card.text and not card.buttons())
    reopened = await post(prod, "alertmanager", refire("2026-11-21T21:00:00Z"))
    assert reopened.json()["outcome"] == "reopened"
    await slack.wait_for(lambda: "Reopened" in thread_text(slack, card))
    await slack.wait_for(lambda: "Acknowledge" in card.buttons())

    # The month's figures, from what just happened: one deployment, rolled back after an alert.
    assert await slack.command(ALICE, "/deploy stats prod --since 7d") == 200
    stats = await slack.wait_for(lambda: slack.response("DORA figures for prod"))
    assert "0.14/day (1 deployments)" in stats["text"]
    assert "Change failure rate: 100% (1 of 1)" in stats["text"]
    assert (
        "over 1 incidents" in stats["text"]
        and "MTTA (mean time to acknowledge): –" not in (stats["text"])
    )
    actions = {r["outcome"] for r in audit_rows(prod, "alert.received")}
    assert actions == {"opened", "joined", "reopened"}
    assert audit_rows(prod, "incident.mitigated")
    assert (await prod.audit_verify())[0] == 0


async def test_unmapped_and_resource_mapped_alerts(running: Production) -> None:
    prod, slack = running, running.slack
    grafana = await post(prod, "grafana", raw("grafana-webhook-firing.json"))
    assert grafana.status_code == 200 and grafana.json()["environment"] is None
    card: Message = await slack.wait_for(lambda: incident_card(slack, "This alert was triggered"))
    assert "Roll back" not in " ".join(card.buttons())
    assert "No rollback button: this alert maps to no environment" in card.plain()
    assert "44.24" in card.plain()  # Grafana's values

    oncall = await post(
        prod, "alertmanager", raw("alertmanager-firing.grafana-oncall-example.json")
    )
    assert oncall.json()["environment"] is None

    azure = await post(prod, "azure-monitor", raw("azure-monitor-http5xx-fired.synthesized.json"))
    assert azure.json()["environment"] == "prod"
    az_card: Message = await slack.wait_for(
        lambda: incident_card(slack, "virtualqueue-prod-http5xx")
    )
    assert "resource virtualqueue-production-blue" in az_card.plain()
    assert "HIGH" in az_card.plain() and "Http5xx = 57" in az_card.plain()
    # No deployment by deploybot yet: no rollback button, and the card says why.
    assert "deploybot has no deployment on prod to undo" in az_card.plain()

    vm = await post(prod, "azure-monitor", raw("azure-monitor-metric-resolved.json"))
    assert vm.json()["outcome"] == "ignored"  # a resolve for an alert never seen firing
    fragment = await post(
        prod, "azure-monitor", raw("azure-monitor-metric-alertcontext-static.fragment.json")
    )
    assert fragment.status_code == 400 and "schemaId" in fragment.json()["error"]

    assert await slack.click(BOB, card, "Resolve") == 200
    await slack.wait_for(lambda: "(Resolved)" in card.text and not card.buttons())
    again = copy.deepcopy(json.loads(raw("grafana-webhook-firing.json")))
    assert (await post(prod, "grafana", json.dumps(again).encode())).json()["outcome"] == "joined"


async def test_automatic_rollback_waits_for_the_lock_and_happens_once(tmp_path: Path) -> None:
    async with production(tmp_path, tune=auto_prod, env={"DEPLOYBOT_ALERT_TOKEN": TOKEN}) as prod:
        slack, sandbox = prod.slack, prod.sandbox
        deployment = await deploy(slack, "/deploy prod v1.2.0", "v1.2.0")
        assert await slack.command(ALICE, "/deploy lock prod investigating") == 200
        await slack.wait_for(lambda: slack.response("prod is locked"))
        answer = await post(prod, "alertmanager", raw("alertmanager-firing.json"))
        assert answer.json()["outcome"] == "opened"
        card: Message = await slack.wait_for(lambda: incident_card(slack, "5xx rate above 5%"))
        await asyncio.sleep(2)  # the policy is waiting for the lock, not rolling back
        assert slack.card("Rollback · prod") is None
        assert await sandbox.served_versions("prod") == {"v1.2.0"}

        assert await slack.command(ALICE, "/deploy unlock prod") == 200
        await slack.wait_for(lambda: "Automatic rollback" in thread_text(slack, card), timeout=30)
        await slack.wait_for(
            lambda: "Automatic rollback" in thread_text(slack, deployment), timeout=30
        )
        await slack.wait_for(
            lambda: "Traffic back on v1.1.0" in thread_text(slack, card), timeout=120
        )
        assert await sandbox.served_versions("prod") == {"v1.1.0"}

        # A re-fire of the same incident does not roll back a second time.
        again = await post(prod, "alertmanager", refire("2026-11-21T20:50:00Z"))
        assert again.json()["outcome"] == "joined"
        await slack.wait_for(lambda: "fired again ×2" in thread_text(slack, card))
        await asyncio.sleep(1)
        rollbacks = [
            m
            for m in slack.messages.values()
            if m.thread_ts is None and "Rollback · prod" in m.text
        ]
        assert len(rollbacks) == 1
        assert "Roll back to" not in " ".join(card.buttons())
