"""Azure Monitor routes: ``metrics`` and ``metricDefinitions`` of a site or slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from commands.platform.sandbox.armcore import ArmCall, ArmError, ArmHandler, arm_json, not_found
from commands.platform.sandbox.metrics import MINUTE, Bucket, MetricStore, minute_of
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.router import Router
from commands.platform.sandbox.timespans import (
    TimespanError,
    format_duration,
    iso_z,
    parse_duration,
    parse_timespan,
)
from commands.platform.sandbox.world import World

AGGREGATIONS = ("Total", "Average", "Count", "Minimum", "Maximum")
MAX_MINUTES = 31 * 24 * 60
MAX_POINTS = 50_000


@dataclass(frozen=True)
class MetricDef:
    name: str
    unit: str
    primary: str
    description: str
    counter: str | None  # Bucket field for a count metric; None for the response time


METRICS = {
    m.name.lower(): m
    for m in (
        MetricDef("Requests", "Count", "Total", "The total number of requests.", "requests"),
        MetricDef("Http2xx", "Count", "Total", "Requests answered 200..299.", "http2xx"),
        MetricDef("Http3xx", "Count", "Total", "Requests answered 300..399.", "http3xx"),
        MetricDef("Http4xx", "Count", "Total", "Requests answered 400..499.", "http4xx"),
        MetricDef("Http5xx", "Count", "Total", "Requests answered 500..599.", "http5xx"),
        MetricDef("HttpResponseTime", "Seconds", "Average", "Time taken to serve requests.", None),
        MetricDef(
            "AverageResponseTime", "Seconds", "Average", "Deprecated: HttpResponseTime.", None
        ),
    )
}


def _aggregate(metric: MetricDef, buckets: list[Bucket | None]) -> dict[str, float]:
    if metric.counter is not None:
        values = [float(getattr(b, metric.counter)) if b else 0.0 for b in buckets]
        if not values:
            return {}
        return {
            "total": sum(values),
            "count": float(len(values)),
            "average": sum(values) / len(values),
            "minimum": min(values),
            "maximum": max(values),
        }
    seen = [b for b in buckets if b is not None and b.requests]
    count = sum(b.requests for b in seen)
    if not count:
        return {"count": 0.0}
    total = sum(b.duration_sum for b in seen)
    return {
        "total": total,
        "count": float(count),
        "average": total / count,
        "minimum": min(b.duration_min or 0.0 for b in seen),
        "maximum": max(b.duration_max or 0.0 for b in seen),
    }


def _label(value: Any) -> str:
    return value if isinstance(value, str) else str(value.name)


def _names(text: str | None, allowed: dict[str, Any], what: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if name.lower() not in allowed:
            raise ArmError(
                400,
                "BadRequest",
                f"Failed to find {what} {name!r} for resource type Microsoft.Web/sites; "
                f"supported: {', '.join(_label(v) for v in allowed.values())}.",
            )
    return names


class MonitorApi:
    def __init__(self, world: World, store: MetricStore, clock: Callable[[], datetime]) -> None:
        self._world = world
        self._store = store
        self._clock = clock

    def register(self, router: Router[ArmHandler]) -> None:
        router.add("GET", "{*resource}/providers/Microsoft.Insights/metrics", self.metrics)
        router.add(
            "GET", "{*resource}/providers/Microsoft.Insights/metricDefinitions", self.definitions
        )

    def _unit(self, call: ArmCall) -> Unit:
        unit = self._world.unit_by_id(call.params["resource"])
        if unit is None:
            raise not_found("Microsoft.Web/sites", call.params["resource"].rsplit("/", 1)[-1])
        return unit

    def metrics(self, call: ArmCall) -> web.Response:
        unit = self._unit(call)
        query = call.request.query
        try:
            start, end = parse_timespan(query.get("timespan"), self._clock())
            interval_text = query.get("interval") or "PT1M"
            full = interval_text.upper() == "FULL"
            step = max(end - minute_of(start), MINUTE) if full else parse_duration(interval_text)
        except TimespanError as bad:
            raise ArmError(400, "BadRequest", str(bad)) from None
        if not full and (step < MINUTE or step % MINUTE):
            raise ArmError(
                400, "BadRequest", "interval must be a whole number of minutes (>= PT1M)."
            )
        if end - start > timedelta(minutes=MAX_MINUTES):
            raise ArmError(400, "BadRequest", "The timespan may cover at most 31 days.")
        metric_names = _names(query.get("metricnames") or "Requests", METRICS, "metric")
        if len(metric_names) * ((end - start) // step + 1) > MAX_POINTS:
            raise ArmError(400, "BadRequest", "Too many data points requested.")
        allowed = {a.lower(): a for a in AGGREGATIONS}
        requested = [a.lower() for a in _names(query.get("aggregation"), allowed, "aggregation")]
        value = []
        for name in metric_names:
            metric = METRICS[name.lower()]
            wanted = requested or [metric.primary.lower()]
            points = []
            cursor = minute_of(start)
            while cursor < end:
                buckets = self._store.minutes(unit.resource_id, cursor, min(cursor + step, end))
                point: dict[str, Any] = {"timeStamp": iso_z(cursor)}
                for key, number in _aggregate(metric, buckets).items():
                    if key in wanted:
                        point[key] = number
                points.append(point)
                cursor += step
            value.append(
                {
                    "id": f"{unit.resource_id}/providers/Microsoft.Insights/metrics/{metric.name}",
                    "type": "Microsoft.Insights/metrics",
                    "name": {"value": metric.name, "localizedValue": metric.name},
                    "displayDescription": metric.description,
                    "unit": metric.unit,
                    "timeseries": [{"metadatavalues": [], "data": points}],
                    "errorCode": "Success",
                }
            )
        return arm_json(
            {
                "cost": 0,
                "timespan": f"{iso_z(start)}/{iso_z(end)}",
                "interval": format_duration(step),
                "value": value,
                "namespace": "Microsoft.Web/sites/slots" if unit.slot else "Microsoft.Web/sites",
                "resourceregion": unit.site.location.replace(" ", "").lower(),
            }
        )

    def definitions(self, call: ArmCall) -> web.Response:
        unit = self._unit(call)
        namespace = "Microsoft.Web/sites/slots" if unit.slot else "Microsoft.Web/sites"
        items = [
            {
                "id": f"{unit.resource_id}/providers/microsoft.insights/metricdefinitions/{m.name}",
                "resourceId": unit.resource_id,
                "namespace": namespace,
                "name": {"value": m.name, "localizedValue": m.name},
                "displayDescription": m.description,
                "isDimensionRequired": False,
                "unit": m.unit,
                "primaryAggregationType": m.primary,
                "supportedAggregationTypes": ["None", *AGGREGATIONS],
                "metricAvailabilities": [
                    {"timeGrain": grain, "retention": "P30D"} for grain in ("PT1M", "PT1H", "P1D")
                ],
            }
            for m in METRICS.values()
        ]
        return call.paged(items)
