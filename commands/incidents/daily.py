"""The DORA figures day by day, for the chart ``/deploy stats`` shares. Pure.

Each day (UTC) counts the deployments that went live that day, those of them that failed
(the same rule as the change failure rate), the incidents triggered, and the median lead
time of that day's deployments.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from commands.incidents.dora import failed, live_at, went_live
from storage import Deployment, Incident

# Fewer deployments than this, or on fewer days, and a chart says nothing the figures don't.
CHART_MIN_DEPLOYMENTS = 5
CHART_MIN_DAYS = 3


@dataclass(frozen=True)
class Day:
    day: date
    deployments: int
    failures: int
    incidents: int
    lead_time: timedelta | None


def daily(
    deployments: Sequence[Deployment],
    incidents: Sequence[Incident],
    since: datetime,
    until: datetime,
    failure_window: timedelta,
) -> list[Day]:
    """One entry per calendar day of the window, empty days included."""
    ordered = sorted(deployments, key=lambda d: d.created_at)
    live = [d for d in ordered if went_live(d) and since <= d.created_at < until]
    days: list[Day] = []
    day = since.date()
    while day <= until.date():
        today = [d for d in live if d.created_at.date() == day]
        leads = [(live_at(d) - d.created_at).total_seconds() for d in today]
        days.append(
            Day(
                day,
                len(today),
                sum(1 for d in today if failed(d, ordered, incidents, failure_window)),
                sum(1 for i in incidents if i.triggered_at.date() == day),
                timedelta(seconds=statistics.median(leads)) if leads else None,
            )
        )
        day += timedelta(days=1)
    return days


def enough_for_a_chart(days: Sequence[Day]) -> bool:
    active = [d for d in days if d.deployments]
    return (
        sum(d.deployments for d in active) >= CHART_MIN_DEPLOYMENTS
        and len(active) >= CHART_MIN_DAYS
    )
