"""Front doors split real requests by Traffic Manager weights or by ramp-up rules."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.trafficmanager.models import Endpoint
from azure.mgmt.web.models import Experiments, RampUpRule, SiteConfigResource

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

PROD_RG, TM = "rg-virtualqueue-prod", "virtualqueue-production-tm"
RG, APP = "rg-virtualqueue-staging", "virtualqueue-staging"
REQUESTS = 400


async def _hit(http: aiohttp.ClientSession, url: str, n: int = REQUESTS) -> dict[str, int]:
    """Send ``n`` requests (10 at a time); count who served them."""
    served: dict[str, int] = {}
    gate = asyncio.Semaphore(10)

    async def one() -> None:
        async with gate, http.get(url) as response:
            await response.read()
            assert response.status == 200
            name = response.headers["X-Served-By"]
            served[name] = served.get(name, 0) + 1

    await asyncio.gather(*(one() for _ in range(n)))
    return served


async def test_traffic_manager_weights_split_the_traffic(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    door = sb.front_door_url(TM) + "/api/queues"
    assert await _hit(http, door, 20) == {"virtualqueue-production-blue": 20}
    await azure.tm.endpoints.update(PROD_RG, TM, "AzureEndpoints", "blue", Endpoint(weight=95))
    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "canary", Endpoint(weight=5, endpoint_status="Enabled")
    )
    served = await _hit(http, door)
    canary_share = served["virtualqueue-production-canary"] / REQUESTS
    assert 0.02 <= canary_share <= 0.09
    assert (
        sb.served("virtualqueue-production-canary")["200"]
        == served["virtualqueue-production-canary"]
    )

    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "blue", Endpoint(endpoint_status="Disabled")
    )
    assert await _hit(http, door, 20) == {"virtualqueue-production-canary": 20}


async def test_unhealthy_endpoints_get_no_traffic_while_a_healthy_one_remains(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "green", Endpoint(weight=100, endpoint_status="Enabled")
    )
    sb.faults.version("v1.0.0", unhealthy=True)  # green runs v1.0.0
    served = await _hit(http, sb.front_door_url(TM) + "/health", 30)
    assert served == {"virtualqueue-production-blue": 30}


async def test_ramp_up_rule_split_is_visible_at_the_front_door(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    green = await azure.web.web_apps.get_slot(RG, APP, "green")
    rule = RampUpRule(
        name="green", action_host_name=green.default_host_name, reroute_percentage=25.0
    )
    await azure.web.web_apps.update_configuration(
        RG, APP, SiteConfigResource(experiments=Experiments(ramp_up_rules=[rule]))
    )
    served = await _hit(http, sb.front_door_url(APP) + "/api/queues")
    green_share = served[f"{APP}/green"] / REQUESTS
    assert 0.18 <= green_share <= 0.32

    await azure.web.web_apps.update_configuration(
        RG, APP, SiteConfigResource(experiments=Experiments(ramp_up_rules=[]))
    )
    assert await _hit(http, sb.front_door_url(APP), 20) == {APP: 20}


async def test_routing_name_pins_a_slot(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    door = sb.front_door_url(APP)
    async with http.get(door + "/health?x-ms-routing-name=green") as response:
        assert response.headers["X-Served-By"] == f"{APP}/green"
        assert (await response.json())["version"] == "v1.0.0"
        assert response.headers["X-Front-Door"] == APP


async def test_front_door_answers_502_when_the_backend_is_down_and_503_with_no_endpoint(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.app(APP, down=True)
    async with http.get(sb.front_door_url(APP) + "/health") as response:
        assert response.status == 502
    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "blue", Endpoint(endpoint_status="Disabled")
    )
    async with http.get(sb.front_door_url(TM) + "/health") as response:
        assert response.status == 503


async def test_ramp_up_rules_are_validated(azure: SdkClients) -> None:
    rule = RampUpRule(name="green", action_host_name="x", reroute_percentage=150.0)
    with pytest.raises(HttpResponseError) as refused:
        await azure.web.web_apps.update_configuration(
            RG, APP, SiteConfigResource(experiments=Experiments(ramp_up_rules=[rule]))
        )
    assert refused.value.status_code == 400
