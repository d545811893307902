"""Azure Monitor metrics computed from the traffic the fake apps really served."""

from __future__ import annotations

import aiohttp
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from commands.platform.sandbox import Sandbox
from commands.platform.sandbox.clients import SdkClients
from commands.platform.sandbox.clock import ManualClock

APP = "virtualqueue-staging"
SPAN = "2026-11-21T10:00:00Z/2026-11-21T10:03:00Z"


async def _serve(http: aiohttp.ClientSession, url: str, n: int) -> None:
    for _ in range(n):
        async with http.get(url) as response:
            await response.read()


def _series(result) -> dict[str, list]:
    return {m.name.value: m.timeseries[0].data for m in result.value}


async def test_metrics_match_the_traffic_served(
    azure: SdkClients, sb: Sandbox, clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    api = sb.app_url(APP, "green") + "/api/queues"
    await _serve(http, api, 7)
    sb.faults.app(APP, "green", error_rate=1.0)
    await _serve(http, api, 3)
    clock.advance(60)
    sb.faults.clear()
    await _serve(http, api, 5)
    resource = sb.world.unit(APP, "green").resource_id
    result = await azure.monitor.metrics.list(
        resource,
        timespan=SPAN,
        interval="PT1M",
        metricnames="Requests,Http5xx,HttpResponseTime",
        aggregation="Total,Average",
    )
    assert result.interval == "PT1M"
    assert [m.name.value for m in result.value] == ["Requests", "Http5xx", "HttpResponseTime"]
    assert [m.unit for m in result.value] == ["Count", "Count", "Seconds"]
    series = _series(result)
    assert [p.total for p in series["Requests"]] == [10, 5, 0]
    assert [p.total for p in series["Http5xx"]] == [3, 0, 0]
    assert [p.time_stamp.minute for p in series["Requests"]] == [0, 1, 2]
    times = series["HttpResponseTime"]
    assert times[0].average is not None and times[0].average > 0
    assert times[2].average is None  # no requests in that minute
    assert series["Requests"][0].count is None  # only the requested aggregations

    production = await azure.monitor.metrics.list(
        sb.world.unit(APP).resource_id, timespan=SPAN, interval="PT1M", metricnames="Requests"
    )
    assert [p.total for p in _series(production)["Requests"]] == [0, 0, 0]


async def test_interval_and_aggregation_choices(azure: SdkClients, sb: Sandbox) -> None:
    sb.inject_metrics(APP, requests=100, http5xx=10, response_time_s=0.2)
    result = await azure.monitor.metrics.list(
        sb.world.unit(APP).resource_id,
        timespan=SPAN,
        interval="PT5M",
        metricnames="requests,http5xx,httpresponsetime",
        aggregation="total,count,maximum",
    )
    series = _series(result)
    assert list(series) == ["Requests", "Http5xx", "HttpResponseTime"]
    [requests] = series["Requests"]
    assert (requests.total, requests.average) == (100, None)
    [errors] = series["Http5xx"]
    assert errors.total == 10
    [latency] = series["HttpResponseTime"]
    assert latency.count == 100
    assert latency.maximum == pytest.approx(0.2)


async def test_metric_definitions(azure: SdkClients, sb: Sandbox) -> None:
    names = {
        d.name.value: d.primary_aggregation_type
        async for d in azure.monitor.metric_definitions.list(sb.world.unit(APP).resource_id)
    }
    assert names["Requests"] == "Total"
    assert names["Http5xx"] == "Total"
    assert names["HttpResponseTime"] == "Average"


async def test_bad_metric_queries_are_refused(azure: SdkClients, sb: Sandbox) -> None:
    resource = sb.world.unit(APP).resource_id
    with pytest.raises(HttpResponseError) as unknown:
        await azure.monitor.metrics.list(resource, timespan=SPAN, metricnames="CpuBananas")
    assert unknown.value.status_code == 400
    with pytest.raises(HttpResponseError) as backwards:
        await azure.monitor.metrics.list(
            resource, timespan="2026-11-21T10:05:00Z/2026-11-21T10:00:00Z"
        )
    assert backwards.value.status_code == 400
    with pytest.raises(HttpResponseError) as too_fine:
        await azure.monitor.metrics.list(resource, timespan=SPAN, interval="PT30S")
    assert too_fine.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        await azure.monitor.metrics.list(resource + "/slots/nope", timespan=SPAN)
