"""The Azure side of slack_bench: which ARM request switches traffic, and the raw SDK PATCH
the click is compared with."""

from __future__ import annotations

import os
import time
from typing import Any

PROFILE = ("rg-virtualqueue-prod", "virtualqueue-production-tm")


async def raw_patch(azure: dict[str, str], rounds: int = 20) -> list[float]:
    """One SDK PATCH of prod's live endpoint with its current values (after 3 warm-ups)."""
    from azure.identity.aio import ClientSecretCredential
    from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient
    from azure.mgmt.trafficmanager.models import Endpoint, EndpointProperties

    v = azure
    os.environ["SSL_CERT_FILE"] = v["SSL_CERT_FILE"]
    ca = v["SSL_CERT_FILE"]
    async with (
        ClientSecretCredential(
            v["AZURE_TENANT_ID"], v["AZURE_CLIENT_ID"], v["AZURE_CLIENT_SECRET"],
            authority=v["AZURE_AUTHORITY_HOST"], connection_verify=ca,
        ) as cred,
        TrafficManagerManagementClient(
            cred, v["AZURE_SUBSCRIPTION_ID"], base_url=v["AZURE_RESOURCE_MANAGER_URL"],
            connection_verify=ca,
        ) as tm,
    ):  # fmt: skip
        profile = await tm.profiles.get(*PROFILE)
        live = next(e for e in profile.endpoints or () if e.endpoint_status == "Enabled")
        patch = Endpoint(
            properties=EndpointProperties(weight=live.weight, endpoint_status="Enabled")
        )
        times = []
        for n in range(rounds + 3):
            began = time.perf_counter()
            await tm.endpoints.update(*PROFILE, "AzureEndpoints", str(live.name), patch)
            if n >= 3:
                times.append(time.perf_counter() - began)
    return times


APPS = {"dev": "virtualqueue-dev", "staging": "virtualqueue-staging"}


def app_of(env: str) -> str | None:
    """The slotted Web App an environment swaps, or None for prod (Traffic Manager)."""
    return None if env == "prod" else APPS.get(env, f"virtualqueue-{env}")


def is_switch(record: dict[str, Any], app: str | None) -> bool:
    path = str(record["path"]).lower()
    if app is None:
        return record["method"] == "PATCH" and "/trafficmanagerprofiles/" in path
    return path.endswith("/slotsswap") and f"/sites/{app}/" in path
