"""DORA figures and MTTA on a database holding a generated month, checked by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commands.incidents.dora import figures
from storage import IncidentAlert, Incidents, Store, default_database_url

START = datetime(2026, 11, 1, tzinfo=UTC)
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with Store.open(default_database_url(tmp_path), clock=clock) as opened:
        yield opened


async def incident(incidents: Incidents, clock: Clock, at: datetime, key: str) -> str:
    clock.now = at
    alert = IncidentAlert(key, at, "firing", "Http5xxRateHigh", "5xx", "critical")
    received = await incidents.receive(
        source="alertmanager",
        group_key=key,
        environment="prod",
        mapped_why="label env=prod",
        title="5xx",
        alerts=[alert],
        decide=lambda latest, fresh: "open",
        context={},
    )
    assert received.incident is not None
    return received.incident.id


async def test_a_generated_month(store: Store, clock: Clock) -> None:
    incidents = Incidents(store.db)
    for day in range(30):
        clock.now = START + day * DAY + 10 * 60 * MINUTE
        d = await store.deployments.create(
            kind="deploy",
            environment="prod",
            version=f"v1.{day}.0",
            from_version=f"v1.{day - 1}.0",
            strategy="bluegreen",
            requested_by="U0ALICE",
        )
        clock.now += (day % 3 + 1) * 10 * MINUTE  # lead times 10, 20, 30 min, ten of each
        await store.deployments.update(
            d.id, state="rolled_back" if day in (5, 15, 25) else "succeeded"
        )
        if day == 20:  # a rollback job half an hour after day 20's deployment went live
            clock.now += 30 * MINUTE
            await store.deployments.create(
                kind="rollback",
                environment="prod",
                version="v1.19.0",
                strategy="bluegreen",
                requested_by="U0BOB",
                state="succeeded",
            )
    # Day 10's deployment is live at 10:20; an incident at 10:45: a failed change.
    first = await incident(incidents, clock, START + 10 * DAY + 645 * MINUTE, "g1")
    await incidents.update(
        first,
        acknowledged_at=START + 10 * DAY + 650 * MINUTE,
        mitigated_at=START + 10 * DAY + 660 * MINUTE,
        resolved_at=START + 10 * DAY + 700 * MINUTE,
    )
    # Day 12 at 09:00, 22.5 h after day 11's went live: not a failed change.
    second = await incident(incidents, clock, START + 12 * DAY + 540 * MINUTE, "g2")
    await incidents.update(
        second,
        acknowledged_at=START + 12 * DAY + 555 * MINUTE,
        resolved_at=START + 12 * DAY + 600 * MINUTE,
    )

    until = START + 30 * DAY
    found = figures(
        await incidents.deployments_between(START, until, "prod"),
        await incidents.between(START, until, "prod"),
        START,
        until,
        failure_window=timedelta(hours=1),
    )
    assert found.deployments == 30 and found.per_day == pytest.approx(1.0)
    assert found.lead_time == 20 * MINUTE  # the median of 10×10, 10×20 and 10×30 min
    # Three rolled back, day 10 (an incident within the hour) and day 20 (a rollback job).
    assert found.failures == 5 and found.change_failure_rate == pytest.approx(5 / 30)
    assert found.incidents == 2
    assert found.time_to_restore == 37.5 * MINUTE  # median of 15 min (mitigated), 60 min
    assert found.mtta == 10 * MINUTE  # mean of 5 and 15 min

    week = figures(
        await incidents.deployments_between(START, START + 7 * DAY, "prod"),
        await incidents.between(START, START + 7 * DAY, "prod"),
        START,
        START + 7 * DAY,
        failure_window=timedelta(hours=1),
    )
    assert (week.deployments, week.failures, week.incidents, week.mtta) == (7, 1, 0, None)


def test_stats_command_parses() -> None:
    from commands.parse import UsageError, parse
    from commands.requests import Stats

    envs = {"prod": "prod", "production": "prod"}
    assert parse("/deploy", "stats", envs) == Stats(None, 30)
    assert parse("/deploy", "stats production --since 7d", envs) == Stats("prod", 7)
    refused = parse("/deploy", "stats prod --since forever", envs)
    assert isinstance(refused, UsageError) and "--since" in refused.problem
