"""Azure Monitor's view of the fake apps: per-minute buckets of the traffic they really served."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTE = timedelta(minutes=1)
RETENTION = timedelta(days=2)


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


@dataclass
class Bucket:
    requests: int = 0
    http2xx: int = 0
    http3xx: int = 0
    http4xx: int = 0
    http5xx: int = 0
    duration_sum: float = 0.0
    duration_min: float | None = None
    duration_max: float | None = None

    def add(self, status: int, duration_s: float, count: int = 1) -> None:
        self.requests += count
        family = status // 100
        if family == 2:
            self.http2xx += count
        elif family == 3:
            self.http3xx += count
        elif family == 4:
            self.http4xx += count
        elif family == 5:
            self.http5xx += count
        self.duration_sum += duration_s * count
        low, high = self.duration_min, self.duration_max
        self.duration_min = duration_s if low is None else min(low, duration_s)
        self.duration_max = duration_s if high is None else max(high, duration_s)


class MetricStore:
    """Minute buckets per resource id (site or slot), kept for two days of sandbox time."""

    def __init__(self) -> None:
        self._series: dict[str, dict[datetime, Bucket]] = {}
        self._order: dict[str, deque[datetime]] = {}

    def _bucket(self, resource_id: str, at: datetime) -> Bucket:
        key = resource_id.lower()
        series = self._series.setdefault(key, {})
        minute = minute_of(at)
        bucket = series.get(minute)
        if bucket is None:
            bucket = series[minute] = Bucket()
            order = self._order.setdefault(key, deque())
            order.append(minute)
            while order and order[0] < minute - RETENTION:
                series.pop(order.popleft(), None)
        return bucket

    def record(self, resource_id: str, at: datetime, status: int, duration_s: float) -> None:
        self._bucket(resource_id, at).add(status, duration_s)

    def inject(
        self,
        resource_id: str,
        at: datetime,
        *,
        requests: int,
        http5xx: int,
        response_time_s: float,
    ) -> None:
        """Add synthetic traffic to one minute (for tests of health gates)."""
        bucket = self._bucket(resource_id, at)
        ok = max(requests - http5xx, 0)
        if ok:
            bucket.add(200, response_time_s, ok)
        if http5xx:
            bucket.add(500, response_time_s, http5xx)

    def minutes(self, resource_id: str, start: datetime, end: datetime) -> list[Bucket | None]:
        """The minute buckets of [start, end), None where nothing was recorded."""
        series = self._series.get(resource_id.lower(), {})
        out: list[Bucket | None] = []
        cursor = minute_of(start)
        while cursor < end:
            out.append(series.get(cursor))
            cursor += MINUTE
        return out
