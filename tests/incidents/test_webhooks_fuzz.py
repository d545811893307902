"""Fuzzed webhook bodies over real HTTP: never a 500, never a partial incident.

The real routes (``bot.alerts.http``) over a real SQLite store, served by uvicorn; bodies
are the payloads in tests/fixtures/alerts with parts replaced or removed, or random bytes.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from bot.alerts.http import AlertAuth, alert_routes
from bot.httpserver import running
from bot.tasks import TaskSet
from commands.config import Config
from commands.incidents.intake import Intake
from storage import Incidents, Store, default_database_url

from .conftest import payload

TOKEN, SECRET = "fuzz-token", "grafana-secret"
BASES = {
    "alertmanager": [
        "alertmanager-firing.json",
        "alertmanager-resolved.json",
        "alertmanager-firing.grafana-oncall-example.json",
    ],
    "grafana": ["grafana-webhook-firing.json"],
    "azure-monitor": [
        "azure-monitor-http5xx-fired.synthesized.json",
        "azure-monitor-metric-resolved.json",
    ],
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


class Quiet:
    async def changed(self, incident_id: str) -> None:
        return None

    async def note(self, incident_id: str, text: str) -> None:
        return None

    async def link_job(self, incident_id: str, deployment_id: str) -> None:
        return None


@dataclass
class Server:
    url: str
    database: Path
    tasks: TaskSet


@pytest.fixture
async def server(tmp_path: Path, config: Config) -> AsyncIterator[Server]:
    async with Store.open(default_database_url(tmp_path)) as store:
        from datetime import UTC, datetime

        intake = Intake(config, store, Incidents(store.db), lambda: datetime.now(UTC), Quiet())
        tasks = TaskSet()
        app = Starlette(routes=alert_routes(intake, AlertAuth(TOKEN, SECRET), tasks, lambda: "ref"))
        async with running(app) as url:
            yield Server(url, tmp_path / "deploybot.db", tasks)
        await tasks.close()


def counts(database: Path) -> tuple[int, int, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        alerts = db.execute("SELECT count(*) FROM incident_alerts").fetchone()[0]
        empty = db.execute(
            "SELECT count(*) FROM incidents i WHERE NOT EXISTS "
            "(SELECT 1 FROM incident_alerts a WHERE a.incident_id = i.id)"
        ).fetchone()[0]
    return int(incidents), int(alerts), int(empty)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    source = draw(st.sampled_from(sorted(BASES)))
    if draw(st.integers(0, 9)) == 0:
        return source, draw(st.binary(max_size=200))
    body: Any = copy.deepcopy(payload(draw(st.sampled_from(BASES[source]))))
    for _ in range(draw(st.integers(1, 4))):
        node, key = body, None
        # Walk down a random path, then replace or remove what is there.
        for _ in range(draw(st.integers(0, 4))):
            keys = (
                list(node)
                if isinstance(node, dict)
                else list(range(len(node)))
                if isinstance(node, list)
                else []
            )
            if not keys:
                break
            key = draw(st.sampled_from(keys))
            if not isinstance(node[key], dict | list):
                break
            node, key = node[key], None
        if key is None:
            keys = (
                list(node)
                if isinstance(node, dict)
                else list(range(len(node)))
                if isinstance(node, list)
                else []
            )
            if not keys:
                continue
            key = draw(st.sampled_from(keys))
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(JSON)
    return source, json.dumps(body).encode()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
async def test_fuzzed_bodies_never_500_nor_half_recorded(
    server: Server, case: tuple[str, bytes]
) -> None:
    source, body = case
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if source == "grafana":
        headers["X-Grafana-Alerting-Signature"] = hmac.new(
            SECRET.encode(), body, hashlib.sha256
        ).hexdigest()
    before = counts(server.database)
    async with httpx.AsyncClient(timeout=20) as http:
        answer = await http.post(f"{server.url}/alerts/{source}", content=body, headers=headers)
    assert answer.status_code in (200, 400), answer.text
    assert isinstance(answer.json()["ok"], bool)
    after = counts(server.database)
    assert after[2] == 0, "an incident without its alerts"
    if answer.status_code != 200:
        assert after == before, answer.text
        assert answer.json()["error"]


async def test_grafana_signature_is_required_when_configured(server: Server) -> None:
    body = json.dumps(payload("grafana-webhook-firing.json")).encode()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=20) as http:
        url = f"{server.url}/alerts/grafana"
        unsigned = await http.post(url, content=body, headers=auth)
        forged = await http.post(
            url, content=body, headers={**auth, "X-Grafana-Alerting-Signature": "00"}
        )
        stamp = "1700000000"
        stale_sig = hmac.new(
            SECRET.encode(), stamp.encode() + b":" + body, hashlib.sha256
        ).hexdigest()
        stale = await http.post(
            url,
            content=body,
            headers={
                **auth,
                "X-Grafana-Alerting-Signature": stale_sig,
                "X-Grafana-Alerting-Signature-Timestamp": stamp,
            },
        )
        good = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        signed = await http.post(
            url, content=body, headers={**auth, "X-Grafana-Alerting-Signature": good}
        )
    assert (unsigned.status_code, unsigned.json()["error"]) == (
        401,
        "missing X-Grafana-Alerting-Signature",
    )
    assert (forged.status_code, forged.json()["error"]) == (401, "bad X-Grafana-Alerting-Signature")
    assert (stale.status_code, stale.json()["error"]) == (401, "stale signature timestamp")
    assert signed.status_code == 200 and signed.json()["outcome"] == "opened"
