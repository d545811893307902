"""The ARM wire protocol: api-version, bearer tokens, routing, errors, injected faults."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.web.aio import WebSiteManagementClient

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

RG, APP = "rg-virtualqueue-staging", "virtualqueue-staging"


def _site_path(sb: Sandbox) -> str:
    return (
        f"/subscriptions/{sb.subscription_id}/resourceGroups/{RG}"
        f"/providers/Microsoft.Web/sites/{APP}"
    )


async def _raw(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None,
    **kwargs: Any,
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.request(method, url, headers=headers, **kwargs) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, response.headers


async def test_missing_api_version_is_refused(
    sb: Sandbox, http: aiohttp.ClientSession, bearer: str
) -> None:
    status, body, _ = await _raw(http, "GET", sb.arm_url + _site_path(sb), bearer)
    assert status == 400
    assert body["error"]["code"] == "MissingApiVersionParameter"
    assert sb.arm_requests[-1].status == 400
    assert sb.arm_requests[-1].api_version is None


async def test_missing_or_unknown_bearer_is_refused(
    sb: Sandbox, http: aiohttp.ClientSession, bearer: str
) -> None:
    url = sb.arm_url + _site_path(sb) + "?api-version=2025-05-01"
    status, body, _ = await _raw(http, "GET", url, None)
    assert (status, body["error"]["code"]) == (401, "AuthenticationFailed")
    status, body, _ = await _raw(http, "GET", url, "forged-token")
    assert (status, body["error"]["code"]) == (401, "InvalidAuthenticationToken")
    status, body, _ = await _raw(http, "GET", url, bearer)
    assert status == 200
    assert body["name"] == APP


async def test_routing_is_case_insensitive(
    sb: Sandbox, http: aiohttp.ClientSession, bearer: str
) -> None:
    url = sb.arm_url + _site_path(sb).upper() + "?api-version=2025-05-01"
    status, body, _ = await _raw(http, "GET", url, bearer)
    assert status == 200
    assert body["properties"]["defaultHostName"] == "virtualqueue-staging.azurewebsites.net"


async def test_unknown_route_and_wrong_method(
    sb: Sandbox, http: aiohttp.ClientSession, bearer: str
) -> None:
    base = sb.arm_url + _site_path(sb)
    status, body, _ = await _raw(http, "GET", base + "/bananas?api-version=1", bearer)
    assert (status, body["error"]["code"]) == (404, "NotFound")
    status, body, _ = await _raw(http, "DELETE", base + "?api-version=1", bearer)
    assert status == 405
    status, body, _ = await _raw(
        http, "PUT", base + "/config/appsettings?api-version=1", bearer, data=b"{not json"
    )
    assert (status, body["error"]["code"]) == (400, "InvalidRequestContent")
    status, body, _ = await _raw(
        http,
        "PUT",
        base + "/config/appsettings?api-version=1",
        bearer,
        json={"properties": {"A": 1}},
    )
    assert (status, body["error"]["code"]) == (400, "BadRequest")


async def test_throttle_fault_answers_429_with_retry_after(azure: SdkClients, sb: Sandbox) -> None:
    sb.faults.arm("throttle", match="/sites/virtualqueue-staging", retry_after=7)
    with pytest.raises(HttpResponseError) as throttled:
        await azure.web.web_apps.get(RG, APP)
    assert throttled.value.status_code == 429
    assert throttled.value.response.headers["Retry-After"] == "7"
    assert (await azure.web.web_apps.get(RG, APP)).name == APP  # times=1: used up


async def test_server_error_fault_until_cleared(azure: SdkClients, sb: Sandbox) -> None:
    sb.faults.arm("server_error", times=0, match="trafficmanagerprofiles")
    for _ in range(2):
        with pytest.raises(HttpResponseError) as failed:
            await azure.tm.profiles.get("rg-virtualqueue-prod", "virtualqueue-production-tm")
        assert failed.value.status_code == 500
    assert (await azure.web.web_apps.get(RG, APP)).name == APP  # other paths unaffected
    sb.faults.clear()
    profile = await azure.tm.profiles.get("rg-virtualqueue-prod", "virtualqueue-production-tm")
    assert profile.name == "virtualqueue-production-tm"


async def test_hang_fault_times_the_client_out(
    sb: Sandbox, http: aiohttp.ClientSession, bearer: str
) -> None:
    sb.faults.arm("hang", match="/sites/")
    url = sb.arm_url + _site_path(sb) + "?api-version=2025-05-01"
    with pytest.raises(TimeoutError):
        await _raw(http, "GET", url, bearer, timeout=aiohttp.ClientTimeout(total=0.2))
    sb.faults.clear()
    assert (await _raw(http, "GET", url, bearer))[0] == 200


async def test_wait_for_arm_sees_requests_yet_to_come(azure: SdkClients, sb: Sandbox) -> None:
    waiting = asyncio.create_task(sb.wait_for_arm(lambda r: r.path.endswith("/restart")))
    await azure.web.web_apps.restart(RG, APP)
    record = await waiting
    assert (record.method, record.status, record.api_version) == ("POST", 200, "2025-05-01")
    with pytest.raises(TimeoutError):
        await sb.wait_for_arm(lambda r: r.method == "TRACE", timeout=0.01)


async def test_token_endpoint_rejects_bad_credentials(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    token_url = f"{sb.authority_host}/{sb.tenant_id}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": sb.client_id,
        "client_secret": "wrong",
        "scope": "https://management.azure.com/.default",
    }
    status, body, _ = await _raw(http, "POST", token_url, None, data=form)
    assert (status, body["error"]) == (401, "invalid_client")
    status, body, _ = await _raw(http, "POST", token_url, None, data={**form, "grant_type": "x"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    other_tenant = f"{sb.authority_host}/not-my-tenant/oauth2/v2.0/token"
    status, body, _ = await _raw(http, "POST", other_tenant, None, data=form)
    assert status == 400
    config_url = f"{sb.authority_host}/{sb.tenant_id}/v2.0/.well-known/openid-configuration"
    status, body, _ = await _raw(http, "GET", config_url, None)
    assert body["token_endpoint"] == token_url


async def test_sdk_with_a_wrong_secret_raises_client_authentication_error(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    import ssl

    from azure.core.pipeline.transport import AioHttpTransport

    context = ssl.create_default_context(cafile=sb.ca_file)
    transport = AioHttpTransport(
        session=aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)),
        session_owner=True,
    )
    async with (
        ClientSecretCredential(
            sb.tenant_id,
            sb.client_id,
            "wrong",
            authority=sb.authority_host,
            connection_verify=str(sb.ca_file),
        ) as cred,
        WebSiteManagementClient(
            cred, sb.subscription_id, base_url=sb.arm_url, retry_total=0, transport=transport
        ) as web,
    ):
        with pytest.raises(ClientAuthenticationError):
            await web.web_apps.get(RG, APP)
    assert sb.tokens_issued == 0
