"""ARM JSON shapes of Microsoft.Web resources (what GET returns)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from commands.platform.sandbox.resources import Deployment, Site, Unit


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _resource_type(unit: Unit) -> str:
    return "Microsoft.Web/sites/slots" if unit.slot else "Microsoft.Web/sites"


def site_json(unit: Unit) -> dict[str, Any]:
    site = unit.site
    host, scm = unit.host_name, unit.scm_host_name
    props: dict[str, Any] = {
        "name": unit.label,
        "state": unit.state,
        "hostNames": [host],
        "repositorySiteName": site.name,
        "usageState": "Normal",
        "enabled": True,
        "enabledHostNames": [host, scm],
        "availabilityState": "Normal",
        "hostNameSslStates": [
            {"name": host, "sslState": "Disabled", "hostType": "Standard"},
            {"name": scm, "sslState": "Disabled", "hostType": "Repository"},
        ],
        "serverFarmId": (
            f"/subscriptions/{site.subscription}/resourceGroups/{site.resource_group}"
            f"/providers/Microsoft.Web/serverfarms/{site.name}-plan"
        ),
        "reserved": True,
        "lastModifiedTimeUtc": iso(unit.modified_at),
        "resourceGroup": site.resource_group,
        "defaultHostName": host,
        "httpsOnly": True,
        "clientAffinityEnabled": False,
        "slotSwapStatus": copy.deepcopy(site.swap_status) if unit.slot is None else None,
    }
    return {
        "id": unit.resource_id,
        "name": unit.label,
        "type": _resource_type(unit),
        "kind": "app,linux",
        "location": site.location,
        "tags": {},
        "properties": {k: v for k, v in props.items() if v is not None},
    }


def _config_resource(unit: Unit, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{unit.resource_id}/config/{name}",
        "name": name,
        "type": f"{_resource_type(unit)}/config",
        "location": unit.site.location,
        "properties": properties,
    }


def settings_json(unit: Unit) -> dict[str, Any]:
    return _config_resource(unit, "appsettings", dict(unit.settings))


def web_config_json(unit: Unit) -> dict[str, Any]:
    return _config_resource(unit, "web", copy.deepcopy(unit.config))


def slot_config_names_json(site: Site) -> dict[str, Any]:
    return _config_resource(
        site.production,
        "slotConfigNames",
        {
            "appSettingNames": list(site.sticky_settings),
            "connectionStringNames": list(site.sticky_connection_strings),
            "azureStorageConfigNames": [],
        },
    )


def deployment_json(unit: Unit, deployment: Deployment) -> dict[str, Any]:
    active = unit.deployments[-1] is deployment
    return {
        "id": f"{unit.resource_id}/deployments/{deployment.id}",
        "name": f"{unit.label}/{deployment.id}",
        "type": f"{_resource_type(unit)}/deployments",
        "properties": {
            "status": 4,  # Kudu: Success
            "message": deployment.message,
            "author": "deploybot sandbox",
            "deployer": deployment.deployer,
            "authorEmail": "sandbox@deploybot.invalid",
            "startTime": iso(deployment.at),
            "endTime": iso(deployment.at),
            "active": active,
            "details": f"version {deployment.version}",
        },
    }
