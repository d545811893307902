"""Traffic Manager through the real aio client: weights, enable/disable, monitor status."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.trafficmanager.models import DnsConfig, Endpoint, Profile

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

RG, TM = "rg-virtualqueue-prod", "virtualqueue-production-tm"


async def test_reference_profile(azure: SdkClients, sb: Sandbox) -> None:
    profile = await azure.tm.profiles.get(RG, TM)
    assert profile.traffic_routing_method == "Weighted"
    assert profile.dns_config.fqdn == f"{TM}.trafficmanager.net"
    assert profile.monitor_config.profile_monitor_status == "Online"
    endpoints = {e.name: e for e in profile.endpoints}
    assert {n: (e.weight, e.endpoint_status) for n, e in endpoints.items()} == {
        "blue": (100, "Enabled"),
        "green": (1, "Disabled"),
        "canary": (1, "Disabled"),
    }
    assert endpoints["blue"].endpoint_monitor_status == "Online"
    assert endpoints["green"].endpoint_monitor_status == "Disabled"
    assert endpoints["blue"].target_resource_id == sb.world.app("virtualqueue-production-blue").id


async def test_weight_and_status_patches_merge(azure: SdkClients) -> None:
    endpoints = azure.tm.endpoints
    updated = await endpoints.update(RG, TM, "AzureEndpoints", "green", Endpoint(weight=25))
    assert (updated.weight, updated.endpoint_status) == (25, "Disabled")
    enabled = await endpoints.update(
        RG, TM, "AzureEndpoints", "green", Endpoint(endpoint_status="Enabled")
    )
    assert (enabled.weight, enabled.endpoint_status) == (25, "Enabled")
    assert enabled.endpoint_monitor_status == "Online"
    disabled = await endpoints.update(
        RG, TM, "AzureEndpoints", "blue", Endpoint(endpoint_status="Disabled")
    )
    assert disabled.endpoint_monitor_status == "Disabled"
    again = await endpoints.get(RG, TM, "azureendpoints", "green")  # case-insensitive type
    assert again.weight == 25


@pytest.mark.parametrize("weight", [0, 1001, -5])
async def test_weight_outside_1_to_1000_is_refused(azure: SdkClients, weight: int) -> None:
    with pytest.raises(HttpResponseError) as refused:
        await azure.tm.endpoints.update(RG, TM, "AzureEndpoints", "blue", Endpoint(weight=weight))
    assert refused.value.status_code == 400
    assert refused.value.error.code == "BadRequest"
    blue = await azure.tm.endpoints.get(RG, TM, "AzureEndpoints", "blue")
    assert blue.weight == 100


async def test_monitor_status_follows_app_health(azure: SdkClients, sb: Sandbox) -> None:
    endpoints = azure.tm.endpoints
    await endpoints.update(RG, TM, "AzureEndpoints", "canary", Endpoint(endpoint_status="Enabled"))
    sb.faults.version("v1.1.0", unhealthy=True)
    canary = await endpoints.get(RG, TM, "AzureEndpoints", "canary")
    assert canary.endpoint_monitor_status == "Degraded"
    profile = await azure.tm.profiles.get(RG, TM)
    assert profile.monitor_config.profile_monitor_status == "Degraded"
    sb.faults.clear()
    await azure.web.web_apps.stop(RG, "virtualqueue-production-canary")
    canary = await endpoints.get(RG, TM, "AzureEndpoints", "canary")
    assert canary.endpoint_monitor_status == "Stopped"
    sb.faults.app("virtualqueue-production-blue", down=True)
    blue = await endpoints.get(RG, TM, "AzureEndpoints", "blue")
    assert blue.endpoint_monitor_status == "Degraded"


async def test_server_owned_monitor_status_cannot_be_written(azure: SdkClients) -> None:
    written = await azure.tm.endpoints.update(
        RG, TM, "AzureEndpoints", "green", Endpoint(endpoint_monitor_status="Online")
    )
    assert written.endpoint_monitor_status == "Disabled"


async def test_put_endpoint_and_unknown_endpoint(azure: SdkClients, sb: Sandbox) -> None:
    target = sb.world.app("virtualqueue-production-green").id
    created = await azure.tm.endpoints.create_or_update(
        RG,
        TM,
        "AzureEndpoints",
        "green-2",
        Endpoint(target_resource_id=target, weight=7, endpoint_status="Enabled"),
    )
    assert (created.weight, created.target) == (
        7,
        "virtualqueue-production-green.azurewebsites.net",
    )
    with pytest.raises(ResourceNotFoundError):
        await azure.tm.endpoints.get(RG, TM, "AzureEndpoints", "purple")
    with pytest.raises(HttpResponseError) as bad_target:
        await azure.tm.endpoints.create_or_update(
            RG, TM, "AzureEndpoints", "x", Endpoint(target_resource_id="/nope", weight=1)
        )
    assert bad_target.value.status_code == 400


async def test_profile_patch_merges_dns_config(azure: SdkClients) -> None:
    patched = await azure.tm.profiles.update(RG, TM, Profile(dns_config=DnsConfig(ttl=10)))
    assert patched.dns_config.ttl == 10
    assert patched.dns_config.relative_name == TM
    assert len(patched.endpoints) == 3
    profiles = [p.name async for p in azure.tm.profiles.list_by_resource_group(RG)]
    assert profiles == [TM]
