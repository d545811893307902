"""Traffic Manager's server-owned view: endpoint monitor status and the weighted choice."""

from __future__ import annotations

import random
from datetime import datetime

from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.health import Condition, condition
from commands.platform.sandbox.resources import Endpoint, Profile, Unit
from commands.platform.sandbox.world import World


def endpoint_unit(world: World, endpoint: Endpoint) -> Unit | None:
    props = endpoint.properties
    if endpoint.type_segment.lower() == "azureendpoints":
        return world.unit_by_id(str(props.get("targetResourceId") or ""))
    return world.unit_by_host(str(props.get("target") or ""))


def endpoint_monitor_status(
    world: World, faults: Faults, now: datetime, profile: Profile, endpoint: Endpoint
) -> str:
    if str(profile.properties.get("profileStatus")) == "Disabled":
        return "Inactive"
    if str(endpoint.properties.get("endpointStatus")) == "Disabled":
        return "Disabled"
    unit = endpoint_unit(world, endpoint)
    if unit is None:
        return "Degraded"
    state = condition(unit, faults, now)
    if state is Condition.STOPPED:
        return "Stopped"
    return "Online" if state is Condition.HEALTHY else "Degraded"


def profile_monitor_status(world: World, faults: Faults, now: datetime, profile: Profile) -> str:
    if str(profile.properties.get("profileStatus")) == "Disabled":
        return "Disabled"
    statuses = [endpoint_monitor_status(world, faults, now, profile, e) for e in profile.endpoints]
    enabled = [s for s in statuses if s != "Disabled"]
    if not enabled:
        return "Inactive"
    return "Online" if "Online" in enabled else "Degraded"


def choose_endpoint(
    world: World, faults: Faults, now: datetime, profile: Profile, rng: random.Random
) -> Endpoint | None:
    """What a DNS answer would pick now: enabled endpoints, healthy ones first, by method."""
    if str(profile.properties.get("profileStatus")) == "Disabled":
        return None
    enabled = [
        (e, endpoint_monitor_status(world, faults, now, profile, e))
        for e in profile.endpoints
        if str(e.properties.get("endpointStatus")) == "Enabled"
    ]
    online = [e for e, status in enabled if status == "Online"]
    pool = online or [e for e, _ in enabled]  # all degraded: Traffic Manager returns them all
    if not pool:
        return None
    if str(profile.properties.get("trafficRoutingMethod")) == "Priority":
        return min(pool, key=lambda e: int(e.properties.get("priority") or 1))
    weights = [int(e.properties.get("weight") or 1) for e in pool]
    return rng.choices(pool, weights=weights)[0]
