"""A generated month of deployments and incidents on prod, with figures known by hand.

Thirty deployments, one a day at 10:00 (lead times 10, 20, 30 min, ten of each); three of
them rolled back (days 5, 15, 25); a rollback job half an hour after day 20's went live; an
incident 25 minutes after day 10's went live (acknowledged after 5 min, mitigated after 15)
and one on day 12 at 09:00 (acknowledged after 15 min, resolved after 60).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage import IncidentAlert, Incidents, Store

DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


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


async def generate_month(store: Store, clock: Clock, start: datetime) -> None:
    """``start`` is midnight of the first day; ``store`` must run on ``clock``."""
    incidents = Incidents(store.db)
    for day in range(30):
        clock.now = start + day * DAY + 10 * 60 * MINUTE
        # Created finished: a bot running on the same database takes an unfinished job that
        # no replica holds, last touched longer than a lease ago, over (this clock is weeks
        # behind the bot's), and would end it its own way before the update below.
        d = await store.deployments.create(
            kind="deploy",
            environment="prod",
            version=f"v1.{day}.0",
            from_version=f"v1.{day - 1}.0",
            strategy="bluegreen",
            requested_by="U0ALICE",
            state="rolled_back" if day in (5, 15, 25) else "succeeded",
        )
        clock.now += (day % 3 + 1) * 10 * MINUTE  # lead times 10, 20, 30 min, ten of each
        await store.deployments.update(d.id, finished_at=clock.now)
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
    first = await incident(incidents, clock, start + 10 * DAY + 645 * MINUTE, "g1")
    await incidents.update(
        first,
        acknowledged_at=start + 10 * DAY + 650 * MINUTE,
        mitigated_at=start + 10 * DAY + 660 * MINUTE,
        resolved_at=start + 10 * DAY + 700 * MINUTE,
    )
    # Day 12 at 09:00, 22.5 h after day 11's went live: not a failed change.
    second = await incident(incidents, clock, start + 12 * DAY + 540 * MINUTE, "g2")
    await incidents.update(
        second,
        acknowledged_at=start + 12 * DAY + 555 * MINUTE,
        resolved_at=start + 12 * DAY + 600 * MINUTE,
    )
