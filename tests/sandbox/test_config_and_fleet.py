"""The generated deploybot.yml, the environment for SDK clients, and the 50-app fleet."""

from __future__ import annotations

import asyncio

import aiohttp

from commands.config import config_from_text
from commands.platform.sandbox import Sandbox, SandboxSystem
from commands.platform.sandbox.clients import sdk_clients


async def test_config_yaml_loads_and_points_at_the_sandbox(sb: Sandbox) -> None:
    config = config_from_text(sb.config_yaml(), "sandbox.yml")
    prod = config.environments["prod"]
    assert prod.urls.public == sb.front_door_url("virtualqueue-production-tm")
    assert prod.urls.targets == {
        "blue": sb.app_url("virtualqueue-production-blue"),
        "green": sb.app_url("virtualqueue-production-green"),
        "canary": sb.app_url("virtualqueue-production-canary"),
    }
    staging = config.environments["staging"]
    assert staging.urls.public == sb.front_door_url("virtualqueue-staging")
    assert staging.urls.targets == {
        "production": sb.app_url("virtualqueue-staging"),
        "green": sb.app_url("virtualqueue-staging", "green"),
    }
    assert staging.artifact.package_url_for("v1.2.0") == sb.artifact_url("v1.2.0")
    assert config.environments["dev"].azure.subscription == sb.subscription_id


async def test_env_names_everything_an_sdk_process_needs(sb: Sandbox) -> None:
    env = sb.env()
    assert env["AZURE_RESOURCE_MANAGER_URL"] == sb.arm_url
    assert env["AZURE_AUTHORITY_HOST"] == sb.authority_host
    assert env["AZURE_CLIENT_SECRET"] == sb.client_secret
    assert env["AZURE_SUBSCRIPTION_ID"] == "8f2c1a3e-5b7d-4c9e-a1f0-3d6b2e4c8a17"
    bundle = sb.ca_bundle_file.read_text()
    assert sb.ca_file.read_text() in bundle
    assert env["SSL_CERT_FILE"] == str(sb.ca_bundle_file)


async def test_a_fleet_of_fifty_apps() -> None:
    async with Sandbox.start(SandboxSystem.fleet(50), seed=1) as sb:
        async with sdk_clients(sb, "bench") as azure:
            names = [site.name async for site in azure.web.web_apps.list_by_resource_group("bench")]
        assert names == [f"bench-app-{i:03d}" for i in range(1, 51)]  # across pages of 20
        async with aiohttp.ClientSession() as http:

            async def version(name: str) -> str:
                async with http.get(sb.app_url(name) + "/health") as response:
                    body = await response.json()
                    return str(body["version"])

            versions = await asyncio.gather(*(version(n) for n in names))
        assert set(versions) == {"v1.1.0"}
    assert not sb.ca_file.exists()  # nothing left on disk
