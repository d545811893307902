"""Every resource of the sandbox, built from a ``SandboxSystem`` and found like ARM finds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.resources import Endpoint, Profile, Site, Unit
from commands.platform.sandbox.system import ProfileSpec, SandboxSystem


def _scope(*parts: str) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


class World:
    """Every resource of the sandbox, found case-insensitively like ARM does."""

    def __init__(self, system: SandboxSystem, now: datetime, artifact_url: Callable[[str], str]):
        self.system = system
        self.subscriptions: set[str] = {system.subscription_id.lower()}
        self.resource_groups: dict[tuple[str, ...], str] = {}
        self.sites: dict[tuple[str, ...], Site] = {}
        self.profiles: dict[tuple[str, ...], Profile] = {}
        self._by_name: dict[str, Site] = {}
        self._by_host: dict[str, Unit] = {}
        for spec in system.sites:
            site = Site(spec, now, artifact_url)
            self._by_name[site.name.lower()] = site
            self._by_host.update((unit.host_name, unit) for unit in site.units())
            self._add_group(spec.subscription, spec.resource_group)
            self.sites[_scope(spec.subscription, spec.resource_group, spec.name)] = site
        for pspec in system.profiles:
            self._add_group(pspec.subscription, pspec.resource_group)
            self.profiles[_scope(pspec.subscription, pspec.resource_group, pspec.name)] = (
                self._profile(pspec)
            )

    def _profile(self, pspec: ProfileSpec) -> Profile:
        endpoints = []
        for espec in pspec.endpoints:
            target = self.app(espec.app)
            assert target is not None  # checked by SandboxSystem
            endpoint: dict[str, Any] = {
                "targetResourceId": target.id,
                "target": target.production.host_name,
                "endpointStatus": "Enabled" if espec.enabled else "Disabled",
                "weight": espec.weight,
                "priority": espec.priority,
                "endpointLocation": target.location,
                "alwaysServe": "Disabled",
            }
            endpoints.append(Endpoint(espec.name, "azureEndpoints", endpoint))
        dns: dict[str, Any] = {
            "relativeName": pspec.name,
            "fqdn": f"{pspec.name}.trafficmanager.net",
            "ttl": pspec.ttl,
        }
        monitor: dict[str, Any] = {
            "protocol": "HTTPS",
            "port": 443,
            "path": "/health",
            "intervalInSeconds": 30,
            "timeoutInSeconds": 10,
            "toleratedNumberOfFailures": 3,
        }
        properties: dict[str, Any] = {
            "profileStatus": "Enabled",
            "trafficRoutingMethod": pspec.routing_method,
            "dnsConfig": dns,
            "monitorConfig": monitor,
            "trafficViewEnrollmentStatus": "Disabled",
        }
        return Profile(pspec.subscription, pspec.resource_group, pspec.name, properties, endpoints)

    def _add_group(self, subscription: str, resource_group: str) -> None:
        self.subscriptions.add(subscription.lower())
        self.resource_groups[_scope(subscription, resource_group)] = resource_group

    def has_subscription(self, subscription: str) -> bool:
        return subscription.lower() in self.subscriptions

    def has_resource_group(self, subscription: str, resource_group: str) -> bool:
        return _scope(subscription, resource_group) in self.resource_groups

    def site(self, subscription: str, resource_group: str, name: str) -> Site | None:
        return self.sites.get(_scope(subscription, resource_group, name))

    def sites_in(self, subscription: str, resource_group: str | None = None) -> list[Site]:
        return [
            s
            for s in self.sites.values()
            if s.subscription.lower() == subscription.lower()
            and (resource_group is None or s.resource_group.lower() == resource_group.lower())
        ]

    def app(self, name: str) -> Site | None:
        return self._by_name.get(name.lower())

    def unit(self, app: str, slot: str | None = None) -> Unit:
        """The host of ``app`` (``slot`` None or "production" = its production slot)."""
        site = self.app(app)
        if site is None:
            raise SandboxError(f"no Web App named {app!r} in the sandbox")
        unit = site.unit(slot)
        if unit is None:
            raise SandboxError(f"Web App {site.name} has no slot {slot!r}")
        return unit

    def units(self) -> Iterator[Unit]:
        for site in self.sites.values():
            yield from site.units()

    def unit_by_id(self, resource_id: str) -> Unit | None:
        parts = [p for p in resource_id.split("/") if p]
        low = [p.lower() for p in parts]
        if len(parts) not in (8, 10) or low[0] != "subscriptions" or low[2] != "resourcegroups":
            return None
        if low[4:7] != ["providers", "microsoft.web", "sites"]:
            return None
        site = self.site(parts[1], parts[3], parts[7])
        if site is None:
            return None
        if len(parts) == 8:
            return site.production
        return site.slots.get(low[9]) if low[8] == "slots" else None

    def unit_by_host(self, host: str) -> Unit | None:
        return self._by_host.get(host.lower().split(":", 1)[0])

    def profile(self, subscription: str, resource_group: str, name: str) -> Profile | None:
        return self.profiles.get(_scope(subscription, resource_group, name))

    def profile_named(self, name: str) -> Profile | None:
        for profile in self.profiles.values():
            if profile.name.lower() == name.lower():
                return profile
        return None
