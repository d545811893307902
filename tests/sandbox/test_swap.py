"""Slot swap as a long-running operation, swap back, sticky settings, failures and preview."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.web.models import CsmSlotEntity, SlotConfigNamesResource, StringDictionary

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients

RG, APP = "rg-virtualqueue-staging", "virtualqueue-staging"


def swap_entity(target: str) -> CsmSlotEntity:
    return CsmSlotEntity(target_slot=target, preserve_vnet=True)


async def _set_slot_role(azure) -> None:
    """Give each slot a sticky SLOT_ROLE setting (production / green)."""
    web = azure.web.web_apps
    await web.update_slot_configuration_names(
        RG, APP, SlotConfigNamesResource(app_setting_names=["SLOT_ROLE"])
    )
    for slot, role in ((None, "production"), ("green", "staging")):
        if slot is None:
            current = await web.list_application_settings(RG, APP)
            props = {**current.properties, "SLOT_ROLE": role}
            await web.update_application_settings(RG, APP, StringDictionary(properties=props))
        else:
            current = await web.list_application_settings_slot(RG, APP, slot)
            props = {**current.properties, "SLOT_ROLE": role}
            await web.update_application_settings_slot(
                RG, APP, slot, StringDictionary(properties=props)
            )


async def test_swap_and_swap_back_exchange_versions_and_keep_sticky_settings(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    web = azure.web.web_apps
    await _set_slot_role(azure)
    poller = await web.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    assert await poller.result() is None
    assert poller.done()
    assert (sb.version(APP), sb.version(APP, "green")) == ("v1.0.0", "v1.1.0")
    production = await web.list_application_settings(RG, APP)
    green = await web.list_application_settings_slot(RG, APP, "green")
    assert production.properties["APP_VERSION"] == "v1.0.0"
    assert production.properties["SLOT_ROLE"] == "production"
    assert green.properties["APP_VERSION"] == "v1.1.0"
    assert green.properties["SLOT_ROLE"] == "staging"
    async with http.get(sb.app_url(APP) + "/health") as response:
        assert (await response.json())["version"] == "v1.0.0"
        assert response.headers["X-Served-By"] == APP

    # Swap back with the slot form: source = green, target = production.
    back = await web.begin_swap_slot(RG, APP, "green", swap_entity("production"))
    await back.result()
    assert (sb.version(APP), sb.version(APP, "green")) == ("v1.1.0", "v1.0.0")
    green = await web.list_application_settings_slot(RG, APP, "green")
    assert green.properties["SLOT_ROLE"] == "staging"
    site = await web.get(RG, APP)
    assert site.slot_swap_status.source_slot_name == "green"


async def test_swap_is_a_location_lro_without_retry_after(azure: SdkClients, sb: Sandbox) -> None:
    poller = await azure.web.web_apps.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    await poller.result()
    swap = [r for r in sb.arm_requests if r.path.lower().endswith("/slotsswap")]
    polls = [r for r in sb.arm_requests if "/operationresults/" in r.path]
    assert [r.status for r in swap] == [202]
    assert [r.status for r in polls] == [202, 200]  # one poll in progress (the default), then done
    assert all(r.api_version == "2025-05-01" for r in polls)


async def test_swap_records_deployments_on_both_slots(azure: SdkClients) -> None:
    web = azure.web.web_apps
    await (await web.begin_swap_slot_with_production(RG, APP, swap_entity("green"))).result()
    production = [d async for d in web.list_deployments(RG, APP)]
    assert production[0].message == "swap with slot green: v1.1.0 → v1.0.0"
    green = [d async for d in web.list_deployments_slot(RG, APP, "green")]
    assert green[0].message == "swap with slot production: v1.0.0 → v1.1.0"


async def test_swap_failure_is_a_409_swap_failed_and_changes_nothing(
    azure: SdkClients, sb: Sandbox
) -> None:
    sb.faults.arm("swap_failed", match="slotsswap")
    poller = await azure.web.web_apps.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    with pytest.raises(HttpResponseError) as failed:
        await poller.result()
    assert failed.value.status_code == 409
    assert failed.value.error.code == "SwapFailed"
    assert (sb.version(APP), sb.version(APP, "green")) == ("v1.1.0", "v1.0.0")
    # The fault was used up: the next swap works.
    await (
        await azure.web.web_apps.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    ).result()
    assert sb.version(APP) == "v1.0.0"


async def test_slow_swap_holds_until_released_and_blocks_a_second_swap(
    azure: SdkClients, sb: Sandbox
) -> None:
    web = azure.web.web_apps
    sb.faults.arm("slow_lro", match="slotsswap")
    poller = await web.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    waiting = asyncio.create_task(poller.result())
    await sb.wait_for_arm(lambda r: "/operationresults/" in r.path and r.status == 202)
    assert not poller.done()
    with pytest.raises(HttpResponseError) as busy:
        await web.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    assert busy.value.status_code == 409
    assert sb.version(APP) == "v1.1.0"  # nothing swapped yet
    sb.faults.release_lro()
    await waiting
    assert sb.version(APP) == "v1.0.0"


async def test_slow_swap_for_a_number_of_polls(azure: SdkClients, sb: Sandbox) -> None:
    sb.faults.arm("slow_lro", match="slotsswap", polls=3)
    poller = await azure.web.web_apps.begin_swap_slot_with_production(RG, APP, swap_entity("green"))
    await poller.result()
    polls = [r.status for r in sb.arm_requests if "/operationresults/" in r.path]
    assert polls == [202, 202, 202, 200]


async def test_a_timed_swap_finishes_on_its_own_with_nobody_polling(
    azure: SdkClients, sb: Sandbox
) -> None:
    """Azure carries a swap on after the client that started it has gone."""
    sb.faults.arm("slow_lro", match="slotsswap", seconds=0.3)
    await azure.web.web_apps.begin_swap_slot_with_production(
        RG, APP, swap_entity("green"), polling=False
    )
    assert sb.version(APP) == "v1.1.0"
    await asyncio.sleep(0.5)
    assert sb.version(APP) == "v1.0.0"


async def test_a_timed_hang_carries_the_request_out_late(azure: SdkClients, sb: Sandbox) -> None:
    web = azure.web.web_apps
    current = await web.list_application_settings(RG, APP)
    props = {**current.properties, "LATE": "yes"}
    sb.faults.arm("hang", match="config/appsettings", seconds=0.3)
    started = asyncio.get_running_loop().time()
    await web.update_application_settings(RG, APP, StringDictionary(properties=props))
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert (await web.list_application_settings(RG, APP)).properties["LATE"] == "yes"


async def test_swap_rejects_bad_targets(azure: SdkClients) -> None:
    web = azure.web.web_apps
    with pytest.raises(HttpResponseError) as unknown:
        await web.begin_swap_slot_with_production(RG, APP, swap_entity("blue"))
    assert unknown.value.status_code == 404
    with pytest.raises(HttpResponseError) as itself:
        await web.begin_swap_slot(RG, APP, "green", swap_entity("green"))
    assert itself.value.status_code == 400


async def test_swap_with_preview_applies_then_completes_or_resets(
    azure: SdkClients, sb: Sandbox
) -> None:
    web = azure.web.web_apps
    await _set_slot_role(azure)
    await web.apply_slot_config_to_production(RG, APP, CsmSlotEntity(target_slot="green"))
    green = await web.list_application_settings_slot(RG, APP, "green")
    assert green.properties["SLOT_ROLE"] == "production"  # warmed with production's sticky value
    assert green.properties["APP_VERSION"] == "v1.0.0"
    await web.reset_production_slot_config(RG, APP)
    green = await web.list_application_settings_slot(RG, APP, "green")
    assert green.properties["SLOT_ROLE"] == "staging"

    await web.apply_slot_config_to_production(RG, APP, CsmSlotEntity(target_slot="green"))
    await (await web.begin_swap_slot_with_production(RG, APP, swap_entity("green"))).result()
    production = await web.list_application_settings(RG, APP)
    green = await web.list_application_settings_slot(RG, APP, "green")
    assert production.properties["SLOT_ROLE"] == "production"
    assert production.properties["APP_VERSION"] == "v1.0.0"
    assert green.properties["SLOT_ROLE"] == "staging"
    assert green.properties["APP_VERSION"] == "v1.1.0"
