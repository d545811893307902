"""``/deploy stats [env] [--since 30d]``: the DORA figures over the last N days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.config.model import Config
from commands.incidents.daily import Day, daily
from commands.incidents.dora import Figures, figures
from commands.requests import Stats
from storage import Incidents, Store

# A deployment followed this soon by a rollback or an incident counts as a failed change,
# unless the configuration's automatic-rollback window says otherwise.
DEFAULT_FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Report:
    figures: Figures
    days: list[Day]


async def dora_report(store: Store, config: Config, request: Stats, now: datetime) -> Report:
    since = now - timedelta(days=request.days)
    incidents = Incidents(store.db)
    window = config.incidents.auto_rollback_within or DEFAULT_FAILURE_WINDOW
    deployments = await incidents.deployments_between(since, now, request.environment)
    found = await incidents.between(since, now, request.environment)
    return Report(
        figures(deployments, found, since, now, failure_window=window),
        daily(deployments, found, since, now, failure_window=window),
    )
