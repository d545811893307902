"""Grouping over a real SQLite store: open, join by fingerprint, re-fire, resolve, reopen
within the cool-down and a new incident after it; every alert is an audit row."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from commands.config import Config
from commands.incidents.intake import Intake
from commands.incidents.parse import parse_body
from storage import Incidents, Store, default_database_url

from .conftest import payload

START = datetime(2026, 11, 21, 20, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Log:
    """The notifier the intake talks to, recording what the Slack edge would be told."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []
        self.changes: list[str] = []

    async def changed(self, incident_id: str) -> None:
        self.changes.append(incident_id)

    async def note(self, incident_id: str, text: str) -> None:
        self.notes.append((incident_id, text))

    async def link_job(self, incident_id: str, deployment_id: str) -> None:
        self.notes.append((incident_id, f"link to {deployment_id}"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with Store.open(default_database_url(tmp_path), clock=clock) as opened:
        yield opened


def firing(starts: str = "2026-11-21T20:27:06.309495906Z") -> bytes:
    body = copy.deepcopy(payload("alertmanager-firing.json"))
    body["alerts"][0]["startsAt"] = starts
    return json.dumps(body).encode()


def resolved() -> bytes:
    return json.dumps(payload("alertmanager-resolved.json")).encode()


async def test_group_lifecycle(store: Store, config: Config, clock: Clock) -> None:
    log = Log()
    incidents = Incidents(store.db)
    intake = Intake(config, store, incidents, clock, log)

    async def send(body: bytes) -> Any:
        accepted = await intake.receive(parse_body("alertmanager", body))
        await intake.announce(accepted)
        return accepted.received

    first = await send(firing())
    assert first.outcome == "opened" and first.incident.environment == "prod"
    incident_id = first.incident.id
    assert first.incident.severity == "critical" and first.incident.fire_count == 1

    # The same episode again (Alertmanager's repeat) joins quietly.
    again = await send(firing())
    assert again.outcome == "joined" and again.incident.id == incident_id
    assert again.incident.fire_count == 1 and not again.fired and not again.refired

    # The resolve lists both instances; the second was never seen firing: recorded resolved.
    clock.now += timedelta(minutes=2)
    done = await send(resolved())
    assert done.incident.state == "resolved" and done.incident_resolved
    assert done.incident.resolved_by == "monitoring"

    # A new episode within the cool-down reopens the same incident.
    clock.now += timedelta(minutes=5)
    reopened = await send(firing("2026-11-21T20:40:00Z"))
    assert reopened.outcome == "reopened" and reopened.incident.id == incident_id
    assert [count for _, count in reopened.refired] == [2]
    assert (incident_id, "5xx rate above 5% on checkout: fired again ×2") in log.notes

    # Resolved again, then a fire long after the cool-down: a new incident.
    body = payload("alertmanager-resolved.json")
    body["alerts"][0]["startsAt"] = "2026-11-21T20:40:00Z"
    await send(json.dumps(body).encode())
    assert (await incidents.get(incident_id)).state == "resolved"  # type: ignore[union-attr]
    clock.now += config.incidents.cooldown + timedelta(minutes=1)
    fresh = await send(firing("2026-11-21T22:00:00Z"))
    assert fresh.outcome == "opened" and fresh.incident.id != incident_id

    rows = [e async for e in _audit(store)]
    received = [r for r in rows if r.action == "alert.received"]
    assert len(received) == 1 + 1 + 2 + 1 + 2 + 1
    assert {r.action for r in rows} >= {"incident.opened", "incident.reopened", "incident.resolved"}
    assert all(r.environment == "prod" for r in received)


async def test_a_resolve_for_an_unknown_group_opens_nothing(
    store: Store, config: Config, clock: Clock
) -> None:
    intake = Intake(config, store, Incidents(store.db), clock, Log())
    accepted = await intake.receive(parse_body("alertmanager", resolved()))
    assert accepted.received.outcome == "ignored" and accepted.received.incident is None
    assert [e.action async for e in _audit(store)] == ["alert.received", "alert.received"]


async def _audit(store: Store) -> AsyncIterator[Any]:
    for event in await store.audit.query(limit=1000, newest_first=False):
        yield event
