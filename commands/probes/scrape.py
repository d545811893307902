"""Metrics from scraping an app's ``/metrics`` (Prometheus text format) twice and subtracting.

A scrape only sees the present, so the reader remembers earlier scrapes per target: ``read``
scrapes now and compares with the last scrape taken at or before ``start`` (else the oldest
it has). The series' window is the real time between the two scrapes. The first read of a
target has nothing to compare with and returns an empty window (``requests == 0``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from commands.platform.base import MetricSeries
from commands.probes.errors import MetricsUnavailable

Now = Callable[[], datetime]
STATUS_LABELS = ("code", "status", "status_code")


@dataclass(frozen=True)
class Scrape:
    at: datetime
    process_start: float | None
    by_code: dict[str, float]
    buckets: tuple[tuple[float, float], ...]
    """(upper bound, cumulative count), ascending, ending with +Inf."""


def parse_exposition(
    text: str, at: datetime, *, requests_metric: str, duration_metric: str
) -> Scrape:
    by_code: dict[str, float] = {}
    buckets: dict[float, float] = {}
    process_start: float | None = None
    wanted_counter = {requests_metric, requests_metric.removesuffix("_total") + "_total"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted_counter:
                code = next((sample.labels[k] for k in STATUS_LABELS if k in sample.labels), "")
                by_code[code] = by_code.get(code, 0.0) + sample.value
            elif sample.name == f"{duration_metric}_bucket" and "le" in sample.labels:
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == "process_start_time_seconds":
                process_start = sample.value
    return Scrape(at, process_start, by_code, tuple(sorted(buckets.items())))


def increase(before: Scrape, after: Scrape) -> Scrape:
    """What happened between two scrapes; a restarted process counts from zero."""
    restarted = before.process_start != after.process_start or any(
        after.by_code.get(code, 0.0) < value for code, value in before.by_code.items()
    )
    if restarted:
        return after
    old = dict(before.buckets)
    return Scrape(
        after.at,
        after.process_start,
        {code: value - before.by_code.get(code, 0.0) for code, value in after.by_code.items()},
        tuple((bound, count - old.get(bound, 0.0)) for bound, count in after.buckets),
    )


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """``histogram_quantile`` over cumulative buckets (linear within a bucket)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


class ScrapeReader:
    def __init__(
        self,
        http: httpx.AsyncClient,
        urls: Mapping[str, str],
        *,
        path: str = "/metrics",
        requests_metric: str = "http_requests_total",
        duration_metric: str = "http_request_duration_seconds",
        now: Now,
        timeout_s: float = 5.0,
    ) -> None:
        self._http = http
        self._urls = {name: url.rstrip("/") + path for name, url in urls.items()}
        self._requests_metric = requests_metric
        self._duration_metric = duration_metric
        self._now = now
        self._timeout_s = timeout_s
        self._history: dict[str, list[Scrape]] = {}

    async def sample(self, target: str) -> Scrape:
        """Scrape ``target`` now and remember it."""
        url = self._urls.get(target)
        if url is None:
            raise MetricsUnavailable("scrape", target, f"no URL for target {target!r}")
        try:
            response = await self._http.get(url, timeout=self._timeout_s)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(
                "scrape", target, f"{url}: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            scrape = parse_exposition(
                response.text,
                self._now(),
                requests_metric=self._requests_metric,
                duration_metric=self._duration_metric,
            )
        except ValueError as exc:
            raise MetricsUnavailable(
                "scrape", target, f"{url}: not Prometheus text: {exc}"
            ) from exc
        self._history.setdefault(target, []).append(scrape)
        return scrape

    async def read(self, target: str, start: datetime, end: datetime) -> MetricSeries:
        latest = await self.sample(target)
        history = self._history[target]
        earlier = history[:-1]
        at_or_before = [s for s in earlier if s.at <= start]
        baseline = at_or_before[-1] if at_or_before else (earlier[0] if earlier else latest)
        self._history[target] = history[history.index(baseline) :]
        diff = increase(baseline, latest) if baseline is not latest else _empty(latest)
        p95 = quantile(0.95, diff.buckets)
        return MetricSeries(
            source="scrape",
            target=target,
            start=baseline.at,
            end=latest.at,
            requests=sum(diff.by_code.values()),
            errors=sum(v for code, v in diff.by_code.items() if code.startswith("5")),
            latency_ms=p95 * 1000.0 if p95 is not None else None,
            latency_kind="p95",
        )


def _empty(scrape: Scrape) -> Scrape:
    return Scrape(scrape.at, scrape.process_start, {}, ())
