"""The plain-http side: the admin API (state and fault switches) and the artifact store."""

from __future__ import annotations

from typing import Any

import aiohttp

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

BLUE = "virtualqueue-production-blue"


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as response:
        return response.status, await response.json()


async def test_state_summarises_apps_settings_and_weights(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    status, state = await _call(http, "GET", sb.admin_url + "/admin/state")
    assert status == 200
    assert state["arm_url"] == sb.arm_url
    apps = {(a["app"], a["slot"]): a for a in state["apps"]}
    assert apps[("virtualqueue-staging", "green")]["version"] == "v1.0.0"
    assert apps[("virtualqueue-staging", None)]["settings"]["APP_VERSION"] == "v1.1.0"
    assert apps[(BLUE, None)]["url"] == sb.app_url(BLUE)
    [tm] = state["traffic_managers"]
    weights = {e["name"]: (e["weight"], e["status"]) for e in tm["endpoints"]}
    assert weights == {
        "blue": (100, "Enabled"),
        "green": (1, "Disabled"),
        "canary": (1, "Disabled"),
    }
    assert tm["url"] == sb.front_door_url("virtualqueue-production-tm")


async def test_faults_over_http(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    admin = sb.admin_url + "/admin/faults"
    status, _ = await _call(http, "POST", admin + "/app", {"app": BLUE, "error_rate": 1.0})
    assert status == 200
    async with http.get(sb.app_url(BLUE) + "/api/queues") as response:
        assert response.status == 500
    status, reply = await _call(
        http, "POST", admin + "/version", {"version": "v9", "missing_artifact": True}
    )
    assert reply["faults"]["versions"]["v9"]["missing_artifact"] is True
    status, reply = await _call(http, "POST", admin + "/arm", {"kind": "throttle", "times": 2})
    assert reply["faults"]["arm"][0]["remaining"] == 2
    status, reply = await _call(http, "POST", admin + "/dependency", {"name": "database"})
    assert reply["faults"]["dependencies_down"] == ["database"]
    status, reply = await _call(http, "DELETE", admin)
    empty = {"apps": {}, "versions": {}, "dependencies_down": [], "arm": [], "hanging": 0}
    assert reply["faults"] == empty
    async with http.get(sb.app_url(BLUE) + "/api/queues") as response:
        assert response.status == 200


async def test_bad_admin_requests_get_clear_400s(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    admin = sb.admin_url + "/admin/faults"
    status, reply = await _call(http, "POST", admin + "/app", {"app": "nope"})
    assert status == 400 and "no Web App" in reply["error"]
    status, reply = await _call(http, "POST", admin + "/app", {"app": BLUE, "colour": "red"})
    assert status == 400 and "unknown field" in reply["error"]
    status, reply = await _call(http, "POST", admin + "/app", {"error_rate": 0.5})
    assert status == 400 and "missing field: app" in reply["error"]
    status, reply = await _call(http, "POST", admin + "/arm", {"kind": "throttle", "times": "x"})
    assert status == 400
    status, reply = await _call(http, "POST", admin + "/app", [1, 2])
    assert status == 400
    status, reply = await _call(http, "GET", admin + "/app")
    assert status == 405
    status, reply = await _call(http, "GET", sb.admin_url + "/admin/nothing")
    assert status == 404


async def test_arm_requests_over_http(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await azure.web.web_apps.get("rg-virtualqueue-staging", "virtualqueue-staging")
    status, records = await _call(http, "GET", sb.admin_url + "/admin/arm-requests?limit=1")
    assert status == 200
    assert records[0]["method"] == "GET" and records[0]["status"] == 200


async def test_artifact_store(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    url = sb.artifact_url("v1.2.0")
    async with http.head(url) as response:
        assert response.status == 200
    async with http.get(url) as response:
        assert response.status == 200
        assert (await response.read())[:2] == b"PK"  # a zip
    sb.faults.version("v1.2.0", missing_artifact=True)
    async with http.head(url) as response:
        assert response.status == 404
    async with http.post(url) as response:
        assert response.status == 405


async def test_an_app_started_on_a_missing_package_is_broken(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    from azure.mgmt.web.models import StringDictionary

    sb.faults.version("v1.3.0", missing_artifact=True)
    await azure.web.web_apps.update_application_settings_slot(
        "rg-virtualqueue-staging",
        "virtualqueue-staging",
        "green",
        StringDictionary(
            properties={
                "WEBSITE_RUN_FROM_PACKAGE": sb.artifact_url("v1.3.0"),
                "APP_VERSION": "v1.3.0",
            }
        ),
    )
    async with http.get(sb.app_url("virtualqueue-staging", "green") + "/health") as response:
        assert response.status == 503
