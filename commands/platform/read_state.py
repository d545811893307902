"""Read an environment's state from ARM: versions, hosts, traffic split, what is live."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import Any

from azure.mgmt.trafficmanager.models import Profile
from azure.mgmt.web.models import Site, SiteConfigResource

from commands.config.model import Environment
from commands.platform.arm import Arm
from commands.platform.gather import gather_all
from commands.platform.state import COLOURS, EnvironmentState, SiteInfo, TargetState
from commands.platform.targets import PRODUCTION, TargetRef, targets_of
from commands.platform.traffic import Endpoint, split_of


async def read_environment(arm: Arm, env: Environment) -> EnvironmentState:
    if env.topology == "slots":
        return await _read_slots(arm, env)
    return await _read_traffic_manager(arm, env)


def _target_reads(arm: Arm, refs: Iterable[TargetRef]) -> list[Awaitable[Any]]:
    """Site and app settings of each target, as one flat batch for ``gather_all``."""
    return [read for ref in refs for read in (arm.get_site(ref), arm.app_settings(ref))]


def _pairs(results: list[Any]) -> list[tuple[Site, dict[str, str]]]:
    return [(results[i], results[i + 1]) for i in range(0, len(results), 2)]


async def read_site(arm: Arm, ref: TargetRef, version_setting: str) -> SiteInfo:
    [(site, settings)] = _pairs(await gather_all(*_target_reads(arm, [ref])))
    return SiteInfo(
        ref,
        settings.get(version_setting),
        _text(site.state) or "Unknown",
        str(site.default_host_name or ""),
    )


def ramp_up_percent(config: SiteConfigResource, slot: str, slot_host: str) -> float:
    rules = (config.experiments.ramp_up_rules if config.experiments else None) or []
    for rule in rules:
        host = str(rule.action_host_name or "").lower()
        if rule.name == slot or (host and host == slot_host.lower()):
            return float(rule.reroute_percentage or 0.0)
    return 0.0


async def _read_slots(arm: Arm, env: Environment) -> EnvironmentState:
    targets = targets_of(env)
    slot = str(env.azure.slot)
    site_ref, slot_ref = targets[PRODUCTION], targets[slot]
    *reads, config = await gather_all(
        *_target_reads(arm, [site_ref, slot_ref]), arm.get_config(site_ref)
    )
    (site, site_settings), (slot_site, slot_settings) = _pairs(reads)
    slot_host = str(slot_site.default_host_name or "")
    percent = ramp_up_percent(config, slot, slot_host)
    setting = env.artifact.version_setting
    states = (
        _state(PRODUCTION, site_ref, site, site_settings.get(setting), 100.0 - percent, True),
        _state(slot, slot_ref, slot_site, slot_settings.get(setting), percent, percent > 0),
    )
    return EnvironmentState(env.name, env.topology, states, live=PRODUCTION)


def endpoints_by_target(env: Environment, profile: Profile) -> dict[str, Any]:
    """The profile's endpoint for each target: by target resource id, else by name."""
    refs = targets_of(env)
    by_id = {ref.site_id.lower(): name for name, ref in refs.items()}
    found: dict[str, Any] = {}
    for endpoint in profile.endpoints or []:
        resource_id = str(endpoint.target_resource_id or "").lower()
        name = by_id.get(resource_id) or (endpoint.name if endpoint.name in refs else None)
        if name is not None and name not in found:
            found[name] = endpoint
    return found


def routing_of(endpoints: dict[str, Any]) -> dict[str, Endpoint]:
    return {
        name: Endpoint(
            name=str(ep.name),
            weight=int(ep.weight or 1),
            enabled=ep.endpoint_status == "Enabled",
        )
        for name, ep in endpoints.items()
    }


async def _read_traffic_manager(arm: Arm, env: Environment) -> EnvironmentState:
    refs = targets_of(env)
    results: list[Any] = await gather_all(
        arm.get_profile(env.azure), *_target_reads(arm, refs.values())
    )
    profile, reads = results[0], _pairs(results[1:])
    endpoints = endpoints_by_target(env, profile)
    routing = routing_of(endpoints)
    split = split_of(routing.values())
    setting = env.artifact.version_setting
    states = []
    for (name, ref), (site, settings) in zip(refs.items(), reads, strict=True):
        endpoint = endpoints.get(name)
        monitor = endpoint.endpoint_monitor_status if endpoint is not None else None
        states.append(
            _state(
                name,
                ref,
                site,
                settings.get(setting),
                split.get(name, 0.0),
                routing[name].enabled if name in routing else False,
                monitor_status=_text(monitor),
                weight=routing[name].weight if name in routing else None,
            )
        )
    ttl = profile.dns_config.ttl if profile.dns_config else None
    return EnvironmentState(env.name, env.topology, tuple(states), live=_live(split), dns_ttl_s=ttl)


def _live(split: dict[str, float]) -> str | None:
    """The colour carrying most traffic (the baseline during a canary), else the busiest."""
    serving = {name: share for name, share in split.items() if share > 0}
    colours = {name: share for name, share in serving.items() if name in COLOURS}
    pool = colours or serving
    return max(pool, key=lambda name: pool[name]) if pool else None


def _state(
    name: str,
    ref: TargetRef,
    site: Site,
    version: str | None,
    percent: float,
    enabled: bool,
    *,
    monitor_status: str | None = None,
    weight: int | None = None,
) -> TargetState:
    return TargetState(
        name=name,
        ref=ref,
        version=version,
        state=_text(site.state) or "Unknown",
        host=str(site.default_host_name or ""),
        traffic_percent=percent,
        enabled=enabled,
        monitor_status=monitor_status,
        weight=weight,
    )


def _text(value: object) -> str | None:
    """Enum members print as ``EndpointStatus.ENABLED``; we want their value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
