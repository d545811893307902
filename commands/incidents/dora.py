"""The four DORA figures and MTTA, from deployments and incidents over a window. Pure.

- deployment frequency: deployments (``deploy``/``canary``, not dry runs) that went live
  (``succeeded``, or ``rolled_back`` after their switch), per day of the window;
- lead time: median from the request to the traffic switch (the ``switch`` step's end,
  else the job's end);
- change failure rate: the share of those deployments followed, within ``failure_window``
  and before the next one, by a rollback (their own or a ``rollback`` job) or an incident;
- time to restore: median from an incident's trigger to its mitigation (rollback finished),
  else its resolution;
- MTTA: mean time from trigger to acknowledgement.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage import Deployment, Incident

LIVE = frozenset({"succeeded", "rolled_back"})


@dataclass(frozen=True)
class Figures:
    days: float
    deployments: int
    per_day: float
    lead_time: timedelta | None
    failures: int
    change_failure_rate: float | None
    incidents: int
    time_to_restore: timedelta | None
    mtta: timedelta | None


def went_live(d: Deployment) -> bool:
    return d.kind in ("deploy", "canary") and not d.is_dry_run and d.state in LIVE


def live_at(d: Deployment) -> datetime:
    switch = d.step("switch")
    if switch is not None and switch.finished_at is not None:
        return switch.finished_at
    return d.finished_at or d.updated_at


def figures(
    deployments: Sequence[Deployment],
    incidents: Sequence[Incident],
    since: datetime,
    until: datetime,
    failure_window: timedelta,
) -> Figures:
    days = max((until - since).total_seconds() / 86400, 1e-9)
    ordered = sorted(deployments, key=lambda d: d.created_at)
    live = [d for d in ordered if went_live(d) and since <= d.created_at < until]
    leads = [live_at(d) - d.created_at for d in live]
    failures = [d for d in live if failed(d, ordered, incidents, failure_window)]
    restores = [
        (i.mitigated_at or i.resolved_at) - i.triggered_at  # type: ignore[operator]
        for i in incidents
        if (i.mitigated_at or i.resolved_at) is not None
    ]
    acks = [i.acknowledged_at - i.triggered_at for i in incidents if i.acknowledged_at]
    return Figures(
        days=days,
        deployments=len(live),
        per_day=len(live) / days,
        lead_time=_median(leads),
        failures=len(failures),
        change_failure_rate=len(failures) / len(live) if live else None,
        incidents=len(incidents),
        time_to_restore=_median(restores),
        mtta=timedelta(seconds=statistics.fmean(a.total_seconds() for a in acks)) if acks else None,
    )


def failed(
    d: Deployment,
    ordered: Sequence[Deployment],
    incidents: Sequence[Incident],
    window: timedelta,
) -> bool:
    """Did this deployment fail: rolled back, or followed within ``window`` (and before
    the next deployment) by a rollback job or an incident."""
    if d.state == "rolled_back":
        return True
    start = live_at(d)
    later = [n for n in ordered if n.created_at > d.created_at and n.environment == d.environment]
    following = next((n for n in later if went_live(n)), None)
    end = min(start + window, following.created_at if following else start + window)
    if any(r.kind == "rollback" and start <= r.created_at < end for r in later):
        return True
    return any(i.environment == d.environment and start <= i.triggered_at < end for i in incidents)


def _median(values: Sequence[timedelta]) -> timedelta | None:
    if not values:
        return None
    return timedelta(seconds=statistics.median(v.total_seconds() for v in values))
