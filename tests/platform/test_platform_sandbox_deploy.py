"""Deploy, swap, ramp up and split traffic through AzurePlatform, checked on the apps' hosts."""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import aiohttp
import httpx
import pytest
from azure.identity.aio import ClientSecretCredential

from commands.config.model import Environment
from commands.platform.azure import AzurePlatform
from commands.platform.base import Deployable, public_url, site_of, target_url, targets_of
from commands.platform.clients import ClientOptions, build_clients
from commands.platform.errors import InvalidRequest
from commands.platform.sandbox import Sandbox


async def health_version(http: httpx.AsyncClient, base_url: str) -> str:
    response = await http.get(base_url + "/health")
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


async def served_by(url: str, n: int = 2000, concurrency: int = 20) -> Counter[str]:
    """Send ``n`` requests through a front door; count which host answered each.

    aiohttp rather than httpx here: it is several times faster for a 2000-request sample.
    """
    counts: Counter[str] = Counter()
    remaining = n

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            async with session.get(url + "/api/queues") as response:
                await response.read()
                counts[response.headers["X-Served-By"]] += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return counts


def within_binomial(hits: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def deployable(env: Environment, version: str) -> Deployable:
    return Deployable.of(env.artifact, version)


async def test_deploy_to_a_slot_and_see_it_report(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    http: httpx.AsyncClient,
    sandbox: Sandbox,
    credential: ClientSecretCredential,
) -> None:
    staging = envs["staging"]
    green = targets_of(staging)["green"]
    await platform.put_version(green, deployable(staging, "v1.2.0"))
    await platform.restart(green)
    assert await health_version(http, target_url(staging, "green")) == "v1.2.0"
    assert await health_version(http, target_url(staging, "production")) == "v1.1.0"
    state = await platform.read_state(staging)
    assert [t.version for t in state.targets] == ["v1.1.0", "v1.2.0"]
    # read-modify-write kept every other setting and pointed the package at the new version
    raw = build_clients(
        credential,
        sandbox.subscription_id,
        ClientOptions(arm_url=sandbox.arm_url, ca_file=sandbox.ca_file, polling_interval_s=0),
    )
    try:
        settings = await raw.web.web_apps.list_application_settings_slot(
            green.resource_group, green.app, "green"
        )
    finally:
        await raw.close()
    assert settings.properties["APP_VERSION"] == "v1.2.0"
    assert settings.properties["WEBSITE_RUN_FROM_PACKAGE"].endswith("/v1.2.0.zip")


async def test_deploy_an_image(
    platform: AzurePlatform, envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    dev = envs["dev"]
    green = targets_of(dev)["green"]
    image = Deployable("v2.0.0", None, "virtualqueue.azurecr.io/virtualqueue:v2.0.0")
    await platform.put_version(green, image)
    assert await health_version(http, target_url(dev, "green")) == "v2.0.0"
    assert (await platform.read_site(green)).version == "v2.0.0"


async def test_deploy_to_the_idle_traffic_manager_app(
    platform: AzurePlatform, envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    prod = envs["prod"]
    before = await platform.read_state(prod)
    idle = before.idle
    assert idle == "green"
    await platform.put_version(targets_of(prod)[idle], deployable(prod, "v1.2.0"))
    assert await health_version(http, target_url(prod, idle)) == "v1.2.0"
    assert await health_version(http, public_url(prod)) == "v1.1.0"  # not switched yet
    after = await platform.read_state(prod)
    assert (after.target("green").version, after.live_version) == ("v1.2.0", "v1.1.0")


async def test_swap_and_swap_back(
    platform: AzurePlatform, envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    staging = envs["staging"]
    site = site_of(staging)
    await platform.put_version(targets_of(staging)["green"], deployable(staging, "v1.2.0"))
    await platform.swap(site, "green")
    assert await health_version(http, public_url(staging)) == "v1.2.0"
    assert await health_version(http, target_url(staging, "green")) == "v1.1.0"
    state = await platform.read_state(staging)
    assert (state.live_version, state.target("green").version) == ("v1.2.0", "v1.1.0")
    await platform.swap(site, "green")  # roll back = swap back
    assert await health_version(http, public_url(staging)) == "v1.1.0"
    assert (await platform.read_state(staging)).live_version == "v1.1.0"


async def test_swap_with_preview_then_reset_or_complete(
    platform: AzurePlatform, envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    staging = envs["staging"]
    site = site_of(staging)
    await platform.put_version(targets_of(staging)["green"], deployable(staging, "v1.2.0"))
    await platform.swap_preview(site, "green")
    await platform.swap_reset(site)
    assert (await platform.read_state(staging)).live_version == "v1.1.0"
    await platform.swap_preview(site, "green")
    await platform.swap(site, "green")  # completing a preview is a swap
    assert await health_version(http, public_url(staging)) == "v1.2.0"


async def test_ramp_up_rule_sends_a_share_to_the_slot(
    platform: AzurePlatform, envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    staging = envs["staging"]
    site = site_of(staging)
    await platform.set_ramp_up(site, "green", 25)
    state = await platform.read_state(staging)
    assert state.split == {"production": 75.0, "green": 25.0}
    assert state.target("green").enabled
    counts = await served_by(public_url(staging))
    assert within_binomial(counts["virtualqueue-staging/green"], 2000, 0.25), counts
    await platform.set_split(staging, {"production": 100})  # 0 % clears the rule
    assert (await platform.read_state(staging)).split == {"production": 100.0, "green": 0.0}
    counts = await served_by(public_url(staging), n=200)
    assert counts == Counter({"virtualqueue-staging": 200})


async def test_traffic_manager_flip_and_flip_back(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    http: httpx.AsyncClient,
    sandbox: Sandbox,
) -> None:
    prod = envs["prod"]
    await platform.put_version(targets_of(prod)["green"], deployable(prod, "v1.2.0"))
    start = len(sandbox.arm_requests)
    await platform.set_split(prod, {"green": 100})
    patches = [
        r.path.rsplit("/", 1)[-1] for r in sandbox.arm_requests[start:] if r.method == "PATCH"
    ]
    assert patches == ["green", "blue"]  # the new side is enabled before the old one is disabled
    state = await platform.read_state(prod)
    assert (state.live, state.live_version, state.idle) == ("green", "v1.2.0", "blue")
    assert state.split == {"blue": 0.0, "green": 100.0, "canary": 0.0}
    counts = await served_by(public_url(prod), n=300)
    assert counts == Counter({"virtualqueue-production-green": 300})
    await platform.set_split(prod, {"blue": 100})
    assert (await platform.read_state(prod)).live == "blue"


@pytest.mark.parametrize("percent", [5, 25])
async def test_canary_split_is_visible_in_the_traffic(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    http: httpx.AsyncClient,
    percent: int,
) -> None:
    prod = envs["prod"]
    await platform.set_split(prod, {"blue": 100 - percent, "canary": percent})
    state = await platform.read_state(prod)
    assert state.split == {"blue": 100.0 - percent, "green": 0.0, "canary": float(percent)}
    assert (state.target("blue").weight, state.target("canary").weight) == (
        (100 - percent) * 10,
        percent * 10,
    )
    assert state.live == "blue"
    counts = await served_by(public_url(prod))
    assert sum(counts.values()) == 2000
    canary = counts["virtualqueue-production-canary"]
    assert within_binomial(canary, 2000, percent / 100), counts


async def test_bad_splits_never_reach_azure(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    start = len(sandbox.arm_requests)
    for bad in ({"blue": 60, "canary": 30}, {"purple": 100}, {"blue": 101, "canary": -1}):
        with pytest.raises(InvalidRequest, match="set traffic split on prod was refused"):
            await platform.set_split(envs["prod"], bad)
    with pytest.raises(InvalidRequest, match="InvalidPercent"):
        await platform.set_ramp_up(site_of(envs["staging"]), "green", 150)
    assert sandbox.arm_requests[start:] == []


async def test_weight_zero_is_refused_by_the_sandbox(
    platform: AzurePlatform, envs: dict[str, Environment]
) -> None:
    """Sent raw through the SDK: Azure refuses weight 0, which is why set_split never sends it."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.trafficmanager.models import Endpoint, EndpointProperties

    prod = envs["prod"]
    traffic = platform._arm.clients(prod.azure.subscription).traffic
    with pytest.raises(HttpResponseError) as caught:
        await traffic.endpoints.update(
            prod.azure.resource_group,
            str(prod.azure.traffic_manager),
            "AzureEndpoints",
            "blue",
            Endpoint(properties=EndpointProperties(weight=0)),
        )
    assert caught.value.status_code == 400
