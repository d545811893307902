"""Sites and slots through the real azure-mgmt-web aio client: listing, settings, restarts."""

from __future__ import annotations

import aiohttp
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.web.models import SiteConfigResource, StringDictionary

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

STAGING_RG, STAGING = "rg-virtualqueue-staging", "virtualqueue-staging"
PROD_RG = "rg-virtualqueue-prod"


async def test_lists_sites_by_subscription_and_resource_group(
    azure: SdkClients, sb: Sandbox
) -> None:
    everything = [site.name async for site in azure.web.web_apps.list()]
    assert everything == [
        "virtualqueue-dev",
        "virtualqueue-staging",
        "virtualqueue-production-blue",
        "virtualqueue-production-green",
        "virtualqueue-production-canary",
    ]
    prod = [site async for site in azure.web.web_apps.list_by_resource_group(PROD_RG)]
    assert [s.name for s in prod] == everything[2:]
    blue = prod[0]
    assert blue.id == sb.world.app("virtualqueue-production-blue").id
    assert blue.type == "Microsoft.Web/sites"
    assert blue.state == "Running"
    assert blue.default_host_name == "virtualqueue-production-blue.azurewebsites.net"
    assert blue.location == "West Europe"


async def test_slot_is_named_app_slash_slot(azure: SdkClients) -> None:
    slot = await azure.web.web_apps.get_slot(STAGING_RG, STAGING, "green")
    assert slot.name == "virtualqueue-staging/green"
    assert slot.type == "Microsoft.Web/sites/slots"
    assert slot.default_host_name == "virtualqueue-staging-green.azurewebsites.net"
    assert "virtualqueue-staging-green.scm.azurewebsites.net" in slot.enabled_host_names
    slots = [s.name async for s in azure.web.web_apps.list_slots(STAGING_RG, STAGING)]
    assert slots == ["virtualqueue-staging/green"]


async def test_names_are_case_insensitive(azure: SdkClients) -> None:
    site = await azure.web.web_apps.get(STAGING_RG.upper(), STAGING.upper())
    assert site.name == STAGING


async def test_unknown_site_and_slot_are_resource_not_found(azure: SdkClients) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        await azure.web.web_apps.get(STAGING_RG, "no-such-app")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as no_slot:
        await azure.web.web_apps.get_slot(STAGING_RG, STAGING, "blue")
    assert no_slot.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as no_group:
        await azure.web.web_apps.get("rg-nope", STAGING)
    assert no_group.value.error.code == "ResourceGroupNotFound"


async def test_initial_settings_point_at_the_artifact_store(azure: SdkClients, sb: Sandbox) -> None:
    settings = await azure.web.web_apps.list_application_settings_slot(STAGING_RG, STAGING, "green")
    assert settings.properties == {
        "WEBSITE_RUN_FROM_PACKAGE": sb.artifact_url("v1.0.0"),
        "APP_VERSION": "v1.0.0",
    }


async def test_settings_read_modify_write_restarts_with_the_new_version(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    web = azure.web.web_apps
    current = await web.list_application_settings_slot(STAGING_RG, STAGING, "green")
    updated = {
        **current.properties,
        "WEBSITE_RUN_FROM_PACKAGE": sb.artifact_url("v1.2.0"),
        "APP_VERSION": "v1.2.0",
        "FEATURE_X": "on",
    }
    await web.update_application_settings_slot(
        STAGING_RG, STAGING, "green", StringDictionary(properties=updated)
    )
    again = await web.list_application_settings_slot(STAGING_RG, STAGING, "green")
    assert again.properties == updated
    async with http.get(sb.app_url(STAGING, "green") + "/health") as response:
        assert (await response.json())["version"] == "v1.2.0"

    # PUT replaces the whole set.
    await web.update_application_settings_slot(
        STAGING_RG, STAGING, "green", StringDictionary(properties={"APP_VERSION": "v1.2.1"})
    )
    final = await web.list_application_settings_slot(STAGING_RG, STAGING, "green")
    assert final.properties == {"APP_VERSION": "v1.2.1"}
    assert sb.version(STAGING, "green") == "v1.2.1"
    assert sb.version(STAGING) == "v1.1.0"


async def test_restart_reports_the_version_on_the_apps_own_host(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await azure.web.web_apps.restart(STAGING_RG, STAGING)
    async with http.get(sb.app_url(STAGING) + "/health") as response:
        body = await response.json()
        assert response.status == 200
        assert body == {
            "status": "Healthy",
            "version": "v1.1.0",
            "checks": {"database": "Healthy", "redis": "Healthy"},
        }
        assert response.headers["X-Served-By"] == STAGING


async def test_deployments_record_each_version_change(azure: SdkClients, sb: Sandbox) -> None:
    web = azure.web.web_apps
    await web.update_application_settings_slot(
        STAGING_RG, STAGING, "green", StringDictionary(properties={"APP_VERSION": "v2.0.0"})
    )
    await web.restart_slot(STAGING_RG, STAGING, "green")  # same version: no new record
    records = [d async for d in web.list_deployments_slot(STAGING_RG, STAGING, "green")]
    assert [r.message for r in records] == ["v1.0.0 → v2.0.0", "initial deployment"]
    assert records[0].active is True and records[1].active is False
    deployment_id = records[0].name.rsplit("/", 1)[-1]
    one = await web.get_deployment_slot(STAGING_RG, STAGING, deployment_id, "green")
    assert one.message == "v1.0.0 → v2.0.0"
    with pytest.raises(ResourceNotFoundError):
        await web.get_deployment(STAGING_RG, STAGING, "0" * 32)


async def test_container_image_change_restarts_and_config_patch_merges(
    azure: SdkClients, sb: Sandbox
) -> None:
    web = azure.web.web_apps
    await web.update_application_settings(
        STAGING_RG, STAGING, StringDictionary(properties={"OTHER": "x"})
    )
    await web.update_configuration(
        STAGING_RG, STAGING, SiteConfigResource(linux_fx_version="DOCKER|vq.azurecr.io/vq:v3.1.0")
    )
    config = await web.get_configuration(STAGING_RG, STAGING)
    assert config.linux_fx_version == "DOCKER|vq.azurecr.io/vq:v3.1.0"
    assert config.always_on is True  # PATCH merged, the rest stayed
    assert sb.version(STAGING) == "v3.1.0"


async def test_stop_and_start(azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession) -> None:
    web = azure.web.web_apps
    await web.stop(PROD_RG, "virtualqueue-production-green")
    assert (await web.get(PROD_RG, "virtualqueue-production-green")).state == "Stopped"
    async with http.get(sb.app_url("virtualqueue-production-green") + "/health") as response:
        assert response.status == 403
    await web.start(PROD_RG, "virtualqueue-production-green")
    async with http.get(sb.app_url("virtualqueue-production-green") + "/health") as response:
        assert response.status == 200


async def test_sticky_setting_names_round_trip(azure: SdkClients) -> None:
    from azure.mgmt.web.models import SlotConfigNamesResource

    web = azure.web.web_apps
    before = await web.list_slot_configuration_names(STAGING_RG, STAGING)
    assert before.app_setting_names == []
    await web.update_slot_configuration_names(
        STAGING_RG, STAGING, SlotConfigNamesResource(app_setting_names=["SLOT_ROLE"])
    )
    after = await web.list_slot_configuration_names(STAGING_RG, STAGING)
    assert after.app_setting_names == ["SLOT_ROLE"]
