"""How a host is doing right now: the one answer the fake apps and Traffic Manager share."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from commands.platform.sandbox.faults import DEPENDENCIES, Faults
from commands.platform.sandbox.resources import Unit


class Condition(Enum):
    STOPPED = "stopped"  # the site is stopped (403 page)
    DOWN = "down"  # the process is gone (connection refused)
    STARTING = "starting"  # slow start after a restart (503)
    NO_PACKAGE = "no-package"  # its package was missing when it started (503)
    UNHEALTHY = "unhealthy"  # runs, but its /health says Unhealthy (a broken version or a
    # shared dependency down)
    HEALTHY = "healthy"


def condition(unit: Unit, faults: Faults, now: datetime) -> Condition:
    if unit.state != "Running":
        return Condition.STOPPED
    fault = faults.for_unit(unit)
    if fault.down:
        return Condition.DOWN
    process = unit.process
    # Only (re)starts made while the host had a slow-start fault are slow; clearing it ends them.
    if fault.slow_start_s and now < process.started_at + timedelta(seconds=process.slow_start_s):
        return Condition.STARTING
    if unit.process.package_missing:
        return Condition.NO_PACKAGE
    if faults.for_version(unit.process.version).unhealthy or any(
        faults.dependency_down(name) for name in DEPENDENCIES
    ):
        return Condition.UNHEALTHY
    return Condition.HEALTHY
