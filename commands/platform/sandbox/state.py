"""The JSON summary behind ``GET /admin/state`` and ``Sandbox.state()``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.health import condition
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.traffic import endpoint_monitor_status, endpoint_unit
from commands.platform.sandbox.world import World


def _unit(unit: Unit, faults: Faults, now: datetime, url: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "app": unit.site.name,
        "slot": unit.slot,
        "resource_group": unit.site.resource_group,
        "url": url,
        "state": unit.state,
        "version": unit.process.version,
        "condition": condition(unit, faults, now).value,
        "settings": dict(unit.settings),
        "served": dict(unit.served),
    }
    if unit.slot is None:
        out["sticky_settings"] = list(unit.site.sticky_settings)
        out["ramp_up_rules"] = unit.config.get("experiments", {}).get("rampUpRules") or []
    return out


def summary(
    world: World,
    faults: Faults,
    now: datetime,
    app_url: Callable[[Unit], str],
    door_url: Callable[[str], str | None],
    urls: dict[str, str],
) -> dict[str, Any]:
    profiles = []
    for profile in world.profiles.values():
        endpoints = []
        for endpoint in profile.endpoints:
            unit = endpoint_unit(world, endpoint)
            endpoints.append(
                {
                    "name": endpoint.name,
                    "type": endpoint.type_segment,
                    "target": unit.label if unit else endpoint.properties.get("target"),
                    "weight": endpoint.properties.get("weight"),
                    "status": endpoint.properties.get("endpointStatus"),
                    "monitor_status": endpoint_monitor_status(
                        world, faults, now, profile, endpoint
                    ),
                }
            )
        profiles.append(
            {
                "name": profile.name,
                "resource_group": profile.resource_group,
                "url": door_url(profile.name),
                "routing_method": profile.properties.get("trafficRoutingMethod"),
                "endpoints": endpoints,
            }
        )
    return {
        **urls,
        "time": now.isoformat(),
        "apps": [_unit(u, faults, now, app_url(u)) for u in world.units()],
        "traffic_managers": profiles,
        "front_doors": {
            name: door_url(name)
            for name in [p.name for p in world.profiles.values()]
            + [s.name for s in world.sites.values() if s.slots]
        },
        "faults": faults.snapshot(),
    }
