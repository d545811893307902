"""Microsoft.Network/trafficManagerProfiles routes: profiles and their endpoints."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from commands.platform.sandbox.armcore import ArmCall, ArmError, ArmHandler, arm_json, not_found
from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.lifecycle import merge
from commands.platform.sandbox.resources import Endpoint, Profile
from commands.platform.sandbox.router import Router
from commands.platform.sandbox.traffic import endpoint_monitor_status, profile_monitor_status
from commands.platform.sandbox.world import World

PROFILES = (
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/trafficmanagerprofiles"
)
PROFILE = PROFILES + "/{profile}"
ENDPOINT = PROFILE + "/{etype}/{endpoint}"
TYPE_SEGMENTS = {
    "azureendpoints": "azureEndpoints",
    "externalendpoints": "externalEndpoints",
    "nestedendpoints": "nestedEndpoints",
}
ROUTING_METHODS = ("Performance", "Priority", "Weighted", "Geographic", "MultiValue", "Subnet")
PROFILE_TYPE = "Microsoft.Network/trafficManagerProfiles"


def _enum(value: Any, allowed: tuple[str, ...], what: str) -> str:
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise ArmError(400, "BadRequest", f"{what} must be one of {', '.join(allowed)}.")


def _int_range(value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ArmError(400, "BadRequest", message)
    return value


class TrafficManagerApi:
    def __init__(self, world: World, faults: Faults, clock: Callable[[], datetime]) -> None:
        self._world = world
        self._faults = faults
        self._clock = clock

    def register(self, router: Router[ArmHandler]) -> None:
        router.add(
            "GET",
            "subscriptions/{sub}/providers/Microsoft.Network/trafficmanagerprofiles",
            self.list,
        )
        router.add("GET", PROFILES, self.list)
        router.add("GET", PROFILE, self.get_profile)
        router.add("PATCH", PROFILE, self.patch_profile)
        router.add("PUT", PROFILE, self.put_profile)
        router.add("GET", ENDPOINT, self.get_endpoint)
        router.add("PATCH", ENDPOINT, self.patch_endpoint)
        router.add("PUT", ENDPOINT, self.put_endpoint)
        router.add("DELETE", ENDPOINT, self.delete_endpoint)

    # JSON

    def endpoint_json(self, profile: Profile, endpoint: Endpoint) -> dict[str, Any]:
        props = copy.deepcopy(endpoint.properties)
        props["endpointMonitorStatus"] = endpoint_monitor_status(
            self._world, self._faults, self._clock(), profile, endpoint
        )
        return {
            "id": f"{profile.id}/{endpoint.type_segment}/{endpoint.name}",
            "name": endpoint.name,
            "type": f"{PROFILE_TYPE}/{endpoint.type_segment}",
            "properties": props,
        }

    def profile_json(self, profile: Profile) -> dict[str, Any]:
        props = copy.deepcopy(profile.properties)
        props["monitorConfig"]["profileMonitorStatus"] = profile_monitor_status(
            self._world, self._faults, self._clock(), profile
        )
        props["endpoints"] = [self.endpoint_json(profile, e) for e in profile.endpoints]
        return {
            "id": profile.id,
            "name": profile.name,
            "type": PROFILE_TYPE,
            "location": "global",
            "tags": {},
            "properties": props,
        }

    # Lookups and validation

    def _profile(self, params: dict[str, str]) -> Profile:
        sub, rg = params["sub"], params["rg"]
        if not self._world.has_subscription(sub):
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found."
            )
        profile = self._world.profile(sub, rg, params["profile"])
        if profile is None:
            raise not_found(PROFILE_TYPE, params["profile"], rg)
        return profile

    def _endpoint_props(self, props: dict[str, Any], type_segment: str) -> dict[str, Any]:
        out = {k: v for k, v in props.items() if k != "endpointMonitorStatus"}
        if "weight" in out:
            _int_range(
                out["weight"], 1, 1000, "The weight of an endpoint must be between 1 and 1000."
            )
        if "priority" in out:
            _int_range(
                out["priority"], 1, 1000, "The priority of an endpoint must be between 1 and 1000."
            )
        if "endpointStatus" in out:
            out["endpointStatus"] = _enum(
                out["endpointStatus"], ("Enabled", "Disabled"), "endpointStatus"
            )
        if type_segment == "azureEndpoints":
            unit = self._world.unit_by_id(str(out.get("targetResourceId") or ""))
            if unit is None:
                raise ArmError(
                    400,
                    "BadRequest",
                    "The targetResourceId of an AzureEndpoints endpoint must be an existing "
                    "Web App.",
                )
            out["target"] = unit.host_name
            out.setdefault("endpointLocation", unit.site.location)
        elif not isinstance(out.get("target"), str):
            raise ArmError(400, "BadRequest", "An external endpoint needs a target host name.")
        out.setdefault("endpointStatus", "Enabled")
        out.setdefault("weight", 1)
        out.setdefault("priority", 1)
        return out

    def _profile_props(self, props: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(props)
        out.pop("endpoints", None)
        if "trafficRoutingMethod" in out:
            out["trafficRoutingMethod"] = _enum(
                out["trafficRoutingMethod"], ROUTING_METHODS, "trafficRoutingMethod"
            )
        if "profileStatus" in out:
            out["profileStatus"] = _enum(
                out["profileStatus"], ("Enabled", "Disabled"), "profileStatus"
            )
        dns = out.get("dnsConfig")
        if dns is not None:
            if not isinstance(dns, dict):
                raise ArmError(400, "BadRequest", "dnsConfig must be an object.")
            if "ttl" in dns:
                _int_range(
                    dns["ttl"], 0, 2_147_483_647, "dnsConfig.ttl must be a number of seconds."
                )
            dns.pop("fqdn", None)
        monitor = out.get("monitorConfig")
        if monitor is not None:
            if not isinstance(monitor, dict):
                raise ArmError(400, "BadRequest", "monitorConfig must be an object.")
            monitor.pop("profileMonitorStatus", None)
        return out

    def _endpoints_from(self, profile: Profile, items: Any, *, replace: bool) -> list[Endpoint]:
        if not isinstance(items, list):
            raise ArmError(400, "BadRequest", "endpoints must be a list.")
        result = [] if replace else list(profile.endpoints)
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise ArmError(400, "BadRequest", "Each endpoint needs a name.")
            segment = TYPE_SEGMENTS.get(str(item.get("type", "")).rsplit("/", 1)[-1].lower())
            if segment is None:
                raise ArmError(400, "BadRequest", f"Endpoint {item['name']} has an unknown type.")
            existing = profile.endpoint(segment, item["name"])
            base = existing.properties if existing and not replace else {}
            props = self._endpoint_props(merge(base, item.get("properties") or {}), segment)
            endpoint = Endpoint(item["name"], segment, props)
            if existing in result:
                result[result.index(existing)] = endpoint
            else:
                result.append(endpoint)
        return result

    # Handlers

    def list(self, call: ArmCall) -> web.Response:
        sub, rg = call.params["sub"], call.params.get("rg")
        if not self._world.has_subscription(sub):
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found."
            )
        profiles = [
            p
            for p in self._world.profiles.values()
            if p.subscription.lower() == sub.lower()
            and (rg is None or p.resource_group.lower() == rg.lower())
        ]
        return call.paged([self.profile_json(p) for p in profiles])

    def get_profile(self, call: ArmCall) -> web.Response:
        return arm_json(self.profile_json(self._profile(call.params)))

    def patch_profile(self, call: ArmCall) -> web.Response:
        profile = self._profile(call.params)
        body = call.properties()
        props = self._profile_props(body)
        endpoints = profile.endpoints
        if "endpoints" in body:
            endpoints = self._endpoints_from(profile, body["endpoints"], replace=False)
        profile.properties = merge(profile.properties, props)
        profile.endpoints = endpoints
        return arm_json(self.profile_json(profile))

    def put_profile(self, call: ArmCall) -> web.Response:
        sub, rg, name = call.params["sub"], call.params["rg"], call.params["profile"]
        if not self._world.has_resource_group(sub, rg):
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found."
            )
        body = call.properties()
        profile = self._world.profile(sub, rg, name)
        created = profile is None
        if profile is None:
            profile = Profile(sub, rg, name, {}, [])
        defaults: dict[str, Any] = {
            "profileStatus": "Enabled",
            "trafficRoutingMethod": "Weighted",
            "dnsConfig": {"relativeName": name, "ttl": 60},
            "monitorConfig": {"protocol": "HTTPS", "port": 443, "path": "/"},
        }
        props = merge(defaults, self._profile_props(body))
        props["dnsConfig"]["fqdn"] = f"{props['dnsConfig']['relativeName']}.trafficmanager.net"
        endpoints = self._endpoints_from(profile, body.get("endpoints") or [], replace=True)
        profile.properties, profile.endpoints = props, endpoints
        if created:
            self._world.profiles[(sub.lower(), rg.lower(), name.lower())] = profile
        return arm_json(self.profile_json(profile), 201 if created else 200)

    def _segment(self, call: ArmCall) -> str:
        segment = TYPE_SEGMENTS.get(call.params["etype"].lower())
        if segment is None:
            raise ArmError(
                400,
                "BadRequest",
                "The endpoint type must be AzureEndpoints, ExternalEndpoints or NestedEndpoints.",
            )
        return segment

    def _endpoint(self, call: ArmCall) -> tuple[Profile, Endpoint]:
        profile = self._profile(call.params)
        endpoint = profile.endpoint(self._segment(call), call.params["endpoint"])
        if endpoint is None:
            raise ArmError(
                404,
                "NotFound",
                f"Endpoint {call.params['endpoint']} was not found in profile {profile.name}.",
            )
        return profile, endpoint

    def get_endpoint(self, call: ArmCall) -> web.Response:
        return arm_json(self.endpoint_json(*self._endpoint(call)))

    def patch_endpoint(self, call: ArmCall) -> web.Response:
        profile, endpoint = self._endpoint(call)
        merged = merge(endpoint.properties, call.properties())
        endpoint.properties = self._endpoint_props(merged, endpoint.type_segment)
        return arm_json(self.endpoint_json(profile, endpoint))

    def put_endpoint(self, call: ArmCall) -> web.Response:
        profile = self._profile(call.params)
        segment = self._segment(call)
        props = self._endpoint_props(call.properties(), segment)
        existing = profile.endpoint(segment, call.params["endpoint"])
        if existing is not None:
            existing.properties = props
            return arm_json(self.endpoint_json(profile, existing))
        endpoint = Endpoint(call.params["endpoint"], segment, props)
        profile.endpoints.append(endpoint)
        return arm_json(self.endpoint_json(profile, endpoint), 201)

    def delete_endpoint(self, call: ArmCall) -> web.Response:
        profile, endpoint = self._endpoint(call)
        profile.endpoints.remove(endpoint)
        return web.Response(status=200)
