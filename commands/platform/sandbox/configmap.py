"""The reference ``deploybot.yml`` rewritten to reach this sandbox (its URLs and artifacts)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from commands.platform.sandbox.resources import PRODUCTION, Unit
from commands.platform.sandbox.world import World


def local_artifact_template(template: str, artifacts_base: str) -> str:
    """``https://host/vq/{version}.zip`` → ``<artifacts_base>/vq/{version}.zip``."""
    path = urlsplit(template).path if "://" in template else "/" + template.lstrip("/")
    return artifacts_base.rstrip("/") + path


def sandbox_mapping(
    base: dict[str, Any],
    world: World,
    app_url: Callable[[Unit], str],
    front_door_url: Callable[[str], str | None],
    artifacts_base: str,
) -> dict[str, Any]:
    mapping = copy.deepcopy(base)
    environments = mapping.get("environments") or {}
    for env in environments.values():
        if not isinstance(env, dict):
            continue
        azure = env.get("azure") or {}
        artifact = env.get("artifact") or {}
        if isinstance(artifact.get("package_url"), str):
            artifact["package_url"] = local_artifact_template(
                artifact["package_url"], artifacts_base
            )
        urls = _urls(env.get("topology"), azure, world, app_url, front_door_url)
        if urls is not None:
            env["urls"] = urls
    # Alerts find the sandbox's environments by an env/environment label naming one (or an
    # alias), or by a site or slot of its own in alertTargetIDs (always on, see mapping.py).
    incidents = mapping.get("incidents")
    if isinstance(incidents, dict):
        incidents.setdefault("environment_labels", ["env", "environment"])
    return mapping


def _urls(
    topology: Any,
    azure: dict[str, Any],
    world: World,
    app_url: Callable[[Unit], str],
    front_door_url: Callable[[str], str | None],
) -> dict[str, Any] | None:
    sub, rg = str(azure.get("subscription", "")), str(azure.get("resource_group", ""))
    if topology == "slots":
        site = world.site(sub, rg, str(azure.get("app", "")))
        slot = site.unit(str(azure.get("slot", ""))) if site else None
        if site is None or slot is None or slot is site.production:
            return None
        return {
            "public": front_door_url(site.name),
            "targets": {PRODUCTION: app_url(site.production), str(slot.slot): app_url(slot)},
        }
    if topology == "traffic-manager":
        profile = world.profile(sub, rg, str(azure.get("traffic_manager", "")))
        apps = azure.get("apps") or {}
        targets = {}
        for colour, name in apps.items():
            site = world.site(sub, rg, str(name))
            if site is not None:
                targets[str(colour)] = app_url(site.production)
        if profile is None:
            return None
        return {"public": front_door_url(profile.name), "targets": targets}
    return None
