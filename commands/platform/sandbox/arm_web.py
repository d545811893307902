"""Microsoft.Web routes: sites and slots, app settings, sticky names, site config, restarts."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from commands.platform.sandbox.armcore import ArmCall, ArmError, ArmHandler, arm_json, not_found
from commands.platform.sandbox.lifecycle import Lifecycle, merge
from commands.platform.sandbox.resources import Site, Unit, default_site_config
from commands.platform.sandbox.router import Router
from commands.platform.sandbox.web_json import (
    deployment_json,
    settings_json,
    site_json,
    slot_config_names_json,
    web_config_json,
)
from commands.platform.sandbox.world import World

SITES = "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites"
SITE = SITES + "/{name}"
UNITS = (SITE, SITE + "/slots/{slot}")


def find_site(world: World, params: dict[str, str]) -> Site:
    sub, rg, name = params["sub"], params["rg"], params["name"]
    if not world.has_subscription(sub):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")
    if not world.has_resource_group(sub, rg):
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
    site = world.site(sub, rg, name)
    if site is None:
        raise not_found("Microsoft.Web/sites", name, rg)
    return site


def find_unit(world: World, params: dict[str, str]) -> Unit:
    site = find_site(world, params)
    slot = params.get("slot")
    if slot is None:
        return site.production
    unit = site.slots.get(slot.lower())
    if unit is None:
        raise not_found("Microsoft.Web/sites/slots", f"{site.name}/{slot}", site.resource_group)
    return unit


def _check_subscription(world: World, sub: str) -> None:
    if not world.has_subscription(sub):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")


def _string_map(props: dict[str, Any]) -> dict[str, str]:
    for key, value in props.items():
        if not key or not isinstance(value, str):
            raise ArmError(400, "BadRequest", f"App setting {key!r} must have a string value.")
    return dict(props)


def _check_config(props: dict[str, Any]) -> None:
    fx = props.get("linuxFxVersion")
    if fx is not None and not isinstance(fx, str):
        raise ArmError(400, "BadRequest", "linuxFxVersion must be a string.")
    experiments = props.get("experiments")
    if experiments is None:
        return
    rules = experiments.get("rampUpRules") if isinstance(experiments, dict) else None
    if not isinstance(experiments, dict) or not isinstance(rules, list | type(None)):
        raise ArmError(400, "BadRequest", "experiments.rampUpRules must be a list.")
    total = 0.0
    for rule in rules or []:
        pct = rule.get("reroutePercentage", 0) if isinstance(rule, dict) else None
        if not isinstance(pct, int | float) or isinstance(pct, bool) or not 0 <= pct <= 100:
            raise ArmError(400, "BadRequest", "reroutePercentage must be a number 0..100.")
        if not isinstance(rule.get("actionHostName"), str):
            raise ArmError(400, "BadRequest", "Each ramp-up rule needs an actionHostName.")
        total += pct
    if total > 100:
        raise ArmError(400, "BadRequest", "The ramp-up rules send more than 100% of traffic.")


class WebApi:
    def __init__(self, world: World, lifecycle: Lifecycle) -> None:
        self._world = world
        self._life = lifecycle

    def register(self, router: Router[ArmHandler]) -> None:
        router.add("GET", "subscriptions/{sub}/providers/Microsoft.Web/sites", self.list_all)
        router.add("GET", SITES, self.list_group)
        router.add("GET", SITE, self.get_unit)
        router.add("GET", SITE + "/slots", self.list_slots)
        router.add("GET", SITE + "/config/slotConfigNames", self.get_sticky)
        router.add("PUT", SITE + "/config/slotConfigNames", self.put_sticky)
        router.add("GET", SITE + "/slots/{slot}", self.get_unit)
        for unit in UNITS:
            router.add("POST", unit + "/config/appsettings/list", self.list_settings)
            router.add("PUT", unit + "/config/appsettings", self.put_settings)
            router.add("GET", unit + "/config/web", self.get_config)
            router.add("PATCH", unit + "/config/web", self.patch_config)
            router.add("PUT", unit + "/config/web", self.put_config)
            router.add("POST", unit + "/restart", self.restart)
            router.add("POST", unit + "/start", self.start)
            router.add("POST", unit + "/stop", self.stop)
            router.add("GET", unit + "/deployments", self.list_deployments)
            router.add("GET", unit + "/deployments/{id}", self.get_deployment)

    def list_all(self, call: ArmCall) -> web.Response:
        _check_subscription(self._world, call.params["sub"])
        sites = self._world.sites_in(call.params["sub"])
        return call.paged([site_json(s.production) for s in sites])

    def list_group(self, call: ArmCall) -> web.Response:
        sub, rg = call.params["sub"], call.params["rg"]
        _check_subscription(self._world, sub)
        if not self._world.has_resource_group(sub, rg):
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found."
            )
        return call.paged([site_json(s.production) for s in self._world.sites_in(sub, rg)])

    def get_unit(self, call: ArmCall) -> web.Response:
        return arm_json(site_json(find_unit(self._world, call.params)))

    def list_slots(self, call: ArmCall) -> web.Response:
        site = find_site(self._world, call.params)
        return call.paged([site_json(u) for u in site.slots.values()])

    def get_sticky(self, call: ArmCall) -> web.Response:
        return arm_json(slot_config_names_json(find_site(self._world, call.params)))

    def put_sticky(self, call: ArmCall) -> web.Response:
        site = find_site(self._world, call.params)
        props = call.properties()
        for key in ("appSettingNames", "connectionStringNames"):
            names = props.get(key) or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ArmError(400, "BadRequest", f"{key} must be a list of names.")
        site.sticky_settings = list(props.get("appSettingNames") or [])
        site.sticky_connection_strings = list(props.get("connectionStringNames") or [])
        return arm_json(slot_config_names_json(site))

    def list_settings(self, call: ArmCall) -> web.Response:
        return arm_json(settings_json(find_unit(self._world, call.params)))

    def put_settings(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        self._life.replace_settings(unit, _string_map(call.properties()))
        return arm_json(settings_json(unit))

    def get_config(self, call: ArmCall) -> web.Response:
        return arm_json(web_config_json(find_unit(self._world, call.params)))

    def patch_config(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        props = call.properties()
        _check_config(props)
        self._life.set_config(unit, merge(unit.config, props))
        return arm_json(web_config_json(unit))

    def put_config(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        props = call.properties()
        _check_config(props)
        self._life.set_config(unit, merge(default_site_config(), props))
        return arm_json(web_config_json(unit))

    def restart(self, call: ArmCall) -> web.Response:
        self._life.restart(find_unit(self._world, call.params))
        return web.Response(status=200)

    def start(self, call: ArmCall) -> web.Response:
        self._life.start(find_unit(self._world, call.params))
        return web.Response(status=200)

    def stop(self, call: ArmCall) -> web.Response:
        self._life.stop(find_unit(self._world, call.params))
        return web.Response(status=200)

    def list_deployments(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        return call.paged([deployment_json(unit, d) for d in reversed(unit.deployments)])

    def get_deployment(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        for deployment in unit.deployments:
            if deployment.id.lower() == call.params["id"].lower():
                return arm_json(deployment_json(unit, deployment))
        raise not_found("Microsoft.Web/sites/deployments", call.params["id"])
