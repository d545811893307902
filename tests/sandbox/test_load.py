"""The synthetic load: steady, through the real front doors, and shaped by the version's faults."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp
import pytest
from azure.mgmt.trafficmanager.models import Endpoint
from azure.mgmt.web.models import Experiments, RampUpRule, SiteConfigResource
from prometheus_client.parser import text_string_to_metric_families

from bot.console.faults import apply_load
from commands.platform.sandbox import Sandbox, SandboxError
from commands.platform.sandbox.cli import _parse, banner
from commands.platform.sandbox.clients import SdkClients
from commands.platform.sandbox.load import Pacer

PROD_RG, TM = "rg-virtualqueue-prod", "virtualqueue-production-tm"
BLUE, GREEN, CANARY = (f"virtualqueue-production-{c}" for c in ("blue", "green", "canary"))
STAGING_RG, STAGING = "rg-virtualqueue-staging", "virtualqueue-staging"
SPAN = "2026-11-21T10:00:00Z/2026-11-21T10:01:00Z"  # the minute the test clock stands in


def _sends(pacer: Pacer, times: list[float]) -> list[float]:
    """The clock readings at which ``pacer`` lets a send go, polled at ``times``."""
    return [now for now in times if pacer.take(now)]


def test_the_pacer_spaces_sends_evenly() -> None:
    pacer = Pacer(10.0)
    ticks = [i / 1000 for i in range(3000)]  # polled every millisecond for 3 s
    sent = _sends(pacer, ticks)
    assert len(sent) == 30
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(0.098 < gap < 0.102 for gap in gaps)
    assert pacer.wait(3.0) == pytest.approx(0.0, abs=1e-9)


def test_after_a_stall_the_pacer_skips_instead_of_bursting() -> None:
    pacer = Pacer(10.0)
    assert _sends(pacer, [0.0, 0.05]) == [0.0]
    # the event loop was busy for 1.23 s: one send now, the missed ones are dropped
    assert _sends(pacer, [1.28, 1.281, 1.29, 1.305, 1.35, 1.39]) == [1.28, 1.305]
    assert pacer.missed == 11
    window = [t / 1000 for t in range(1300, 5000)]
    sent = [1.28, 1.305, *_sends(pacer, window)]
    for start in sent:  # no half second ever holds more than rate * 0.5 + 2 sends
        assert sum(start <= t < start + 0.5 for t in sent) <= 7


def test_the_pacer_off_and_on_again() -> None:
    pacer = Pacer()
    assert pacer.wait(0.0) is None
    assert not pacer.take(0.0)
    pacer.set_rate(4.0)
    assert pacer.wait(7.0) == 0.0  # the first send at a new rate is due at once
    assert pacer.take(7.0)
    assert pacer.wait(7.0) == pytest.approx(0.25)
    pacer.set_rate(0)
    assert pacer.wait(7.1) is None


async def test_the_load_is_off_unless_asked_and_bad_rates_are_refused(sb: Sandbox) -> None:
    assert sb.load.rps == 0
    state = sb.state()["load"]
    assert state["rps"] == 0
    assert set(state["doors"]) == {TM, "virtualqueue-dev", STAGING}
    assert sb.front_doors() == {name: sb.front_door_url(name) for name in state["doors"]}
    for bad in (-1, True, "10", 1e6):
        with pytest.raises(SandboxError, match="rps must be a number"):
            sb.load.set_rate(bad)  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="rps must be a number"):
        await Sandbox.launch(load_rps=-5)


async def test_every_front_door_gets_a_steady_share(sb: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    sb.load.set_rate(50)
    await sb.load.until_answered(40)
    elapsed = loop.time() - started
    sent = {door: sb.load.stats(door).sent for door in sb.front_doors()}
    assert max(sent.values()) - min(sent.values()) <= 1  # round-robin over the doors
    for count in sent.values():
        assert 40 <= count <= 50 * elapsed + 2  # never faster than asked (no bursts)
    assert elapsed >= 38 / 50
    sb.load.set_rate(0)
    await sb.load.until_idle()
    tm = sb.load.stats(TM)
    assert tm.codes == {"200": tm.sent} and tm.failed == tm.dropped == 0
    assert tm.backends == {BLUE: tm.sent}  # the reference profile sends everyone to blue
    assert sb.served(BLUE)["total"] == tm.sent  # ...and blue counted each one
    assert sb.served("virtualqueue-dev")["total"] == sb.load.stats("virtualqueue-dev").sent


async def test_weights_and_ramp_up_rules_split_the_load(azure: SdkClients, sb: Sandbox) -> None:
    await azure.tm.endpoints.update(PROD_RG, TM, "AzureEndpoints", "blue", Endpoint(weight=75))
    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "canary", Endpoint(weight=25, endpoint_status="Enabled")
    )
    green = await azure.web.web_apps.get_slot(STAGING_RG, STAGING, "green")
    rule = RampUpRule(
        name="green", action_host_name=green.default_host_name, reroute_percentage=50.0
    )
    await azure.web.web_apps.update_configuration(
        STAGING_RG, STAGING, SiteConfigResource(experiments=Experiments(ramp_up_rules=[rule]))
    )
    sb.load.set_rate(80)
    await sb.load.until_answered(160)
    sb.load.set_rate(0)
    await sb.load.until_idle()
    tm, staging = sb.load.stats(TM), sb.load.stats(STAGING)
    assert set(tm.backends) == {BLUE, CANARY}
    assert 0.12 <= tm.backends[CANARY] / tm.answered <= 0.40
    assert set(staging.backends) == {STAGING, f"{STAGING}/green"}
    assert 0.30 <= staging.backends[f"{STAGING}/green"] / staging.answered <= 0.70


def _histogram(text: str) -> dict[str, float]:
    """``http_request_duration_seconds`` of one /metrics page: bucket bound → count, and count."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "http_request_duration_seconds":
            for sample in family.samples:
                if sample.name.endswith("_bucket"):
                    out[sample.labels["le"]] = sample.value
                elif sample.name.endswith("_count"):
                    out["count"] = sample.value
    return out


async def test_version_faults_shape_errors_and_latency_in_every_source(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    await azure.tm.endpoints.update(PROD_RG, TM, "AzureEndpoints", "blue", Endpoint(weight=50))
    await azure.tm.endpoints.update(
        PROD_RG, TM, "AzureEndpoints", "green", Endpoint(weight=50, endpoint_status="Enabled")
    )
    sb.faults.version("v1.0.0", error_rate=0.5, latency_ms=150)  # green runs v1.0.0
    sb.load.set_rate(60)
    await sb.load.until_answered(100, door=TM)
    sb.load.set_rate(0)
    await sb.load.until_idle()

    tm = sb.load.stats(TM)
    assert tm.codes["200"] + tm.codes["500"] == tm.answered == tm.sent
    green, blue = sb.served(GREEN), sb.served(BLUE)
    assert green["total"] >= 20 and blue["total"] >= 20
    assert blue["5xx"] == 0
    assert 0.25 <= green["5xx"] / green["total"] <= 0.75
    assert green["5xx"] == tm.codes["500"]

    result = await azure.monitor.metrics.list(
        sb.world.unit(GREEN).resource_id,
        timespan=SPAN,
        interval="PT1M",
        metricnames="Requests,Http5xx,HttpResponseTime",
        aggregation="Total,Average",
    )
    monitor = {m.name.value: m.timeseries[0].data[0] for m in result.value}
    assert monitor["Requests"].total == green["total"]
    assert monitor["Http5xx"].total == green["5xx"]
    assert monitor["HttpResponseTime"].average >= 0.15

    pages = {}
    for app in (GREEN, BLUE):
        async with http.get(sb.app_url(app) + "/metrics") as response:
            pages[app] = _histogram(await response.text())
    assert pages[GREEN]["count"] == green["total"]
    assert pages[GREEN]["0.1"] == 0  # every answer of the slow version took >= 150 ms
    # 150 ms plus the machine's own delay: on a busy two-worker run a few answers pass 250 ms
    assert pages[GREEN]["0.25"] >= 0.8 * green["total"]
    assert pages[BLUE]["count"] == blue["total"]
    assert pages[BLUE]["0.1"] == blue["total"]


async def test_the_admin_api_sets_and_shows_the_load(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    url = f"{sb.admin_url}/admin/load"
    async with http.post(url, json={"rps": 5}) as response:
        assert response.status == 200
        assert (await response.json())["load"]["rps"] == 5
    assert sb.load.rps == 5
    async with http.get(f"{sb.admin_url}/admin/state") as response:
        assert (await response.json())["load"]["rps"] == 5
    for body, error in (
        ({"rate": 5}, "unknown field(s): rate; expected rps"),
        ({}, "missing field: rps"),
        ({"rps": "fast"}, "rps must be a number from 0 to 1000, got 'fast'"),
    ):
        async with http.post(url, json=body) as response:
            assert response.status == 400
            assert (await response.json())["error"] == error
    async with http.post(url, json={"rps": 0}) as response:
        assert response.status == 200
    async with http.get(url) as response:
        assert (await response.json())["rps"] == 0


async def test_the_command_line_turns_it_on_by_default(sb: Sandbox) -> None:
    assert _parse([]).load == 10
    assert _parse(["--load", "0"]).load == 0
    sb.load.set_rate(10)
    assert "Load:       10 requests/s per front door" in banner(sb)


async def test_the_console_load_line(sb: Sandbox) -> None:
    assert apply_load(sb, "12").startswith("(load: 12 requests/s per front door; sent so far: ")
    assert sb.load.rps == 12
    assert apply_load(sb, "").startswith("(load: 12 requests/s")
    assert apply_load(sb, "0 rps").startswith("(load: 0 requests/s")
    for bad in ("lots", "-3"):
        with pytest.raises(ValueError, match="load takes requests a second"):
            apply_load(sb, bad)


async def test_scrapes_of_metrics_are_not_counted_as_traffic(
    azure: SdkClients, sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        async with http.get(sb.app_url(CANARY) + "/metrics") as response:
            assert response.status == 200
    result = await azure.monitor.metrics.list(
        sb.world.unit(CANARY).resource_id, timespan=SPAN, interval="PT1M", metricnames="Requests"
    )
    assert result.value[0].timeseries[0].data[0].total == 0
    assert sb.served(CANARY)["total"] == 3  # the host did answer them
