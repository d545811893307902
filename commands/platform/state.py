"""Values read back from the cloud: what runs where, who gets traffic, what the metrics say."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from commands.config.model import Topology
from commands.platform.targets import PRODUCTION, TargetRef

COLOURS = ("blue", "green")


@dataclass(frozen=True)
class TargetState:
    """One slot or Web App as Azure reports it.

    ``enabled`` means "routing may send production traffic here": a Traffic Manager endpoint
    whose status is Enabled, or, with slots, production and a slot with a ramp-up rule.
    ``weight`` is the Traffic Manager weight (None with slots).
    """

    name: str
    ref: TargetRef
    version: str | None
    state: str
    host: str
    traffic_percent: float
    enabled: bool
    monitor_status: str | None = None
    weight: int | None = None


@dataclass(frozen=True)
class SiteInfo:
    """One slot or Web App on its own, without any routing: what runs there."""

    ref: TargetRef
    version: str | None
    state: str
    host: str


@dataclass(frozen=True)
class EnvironmentState:
    environment: str
    topology: Topology
    targets: tuple[TargetState, ...]
    live: str | None
    """The target serving production traffic (the baseline during a canary); None if none is."""
    dns_ttl_s: int | None = None
    """Traffic Manager's DNS TTL: how long clients may keep an old answer (None with slots)."""

    def target(self, name: str) -> TargetState:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(f"{self.environment} has no target {name!r}")

    @property
    def live_version(self) -> str | None:
        return self.target(self.live).version if self.live else None

    @property
    def idle(self) -> str | None:
        """Where the next version goes: the staging slot, or the colour that is not live."""
        if self.topology == "slots":
            return next((t.name for t in self.targets if t.name != PRODUCTION), None)
        if self.live in COLOURS:
            return COLOURS[1 - COLOURS.index(self.live)]
        if self.live is None:
            return None
        # The canary took all traffic: the colour with less traffic is the idle one.
        colours = [t for t in self.targets if t.name in COLOURS]
        return min(colours, key=lambda t: t.traffic_percent).name if colours else None

    @property
    def split(self) -> dict[str, float]:
        return {t.name: t.traffic_percent for t in self.targets}


@dataclass(frozen=True)
class MetricPoint:
    at: datetime
    requests: float
    errors: float
    latency_ms: float | None


@dataclass(frozen=True)
class MetricSeries:
    """Request, 5xx and latency figures of one target over a window, from any metric source.

    ``latency_ms`` is the p95 where the source has a distribution (Prometheus, /metrics
    histograms) and the average where it has not (Azure Monitor); ``latency_kind`` says which.
    ``points`` holds per-interval values when the source gives them.
    """

    source: Literal["azure-monitor", "prometheus", "scrape"]
    target: str
    start: datetime
    end: datetime
    requests: float
    errors: float
    latency_ms: float | None
    latency_kind: Literal["p95", "average"]
    points: tuple[MetricPoint, ...] = ()

    @property
    def window(self) -> timedelta:
        return self.end - self.start

    @property
    def error_rate(self) -> float | None:
        """Share of requests answered 5xx; None when nothing was served (too little data)."""
        return self.errors / self.requests if self.requests > 0 else None

    @property
    def rps(self) -> float | None:
        seconds = self.window.total_seconds()
        return self.requests / seconds if seconds > 0 else None
