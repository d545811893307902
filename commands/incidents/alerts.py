"""One alert, as every source is turned into: what fired, how bad, where, and since when."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Source = Literal["alertmanager", "azure-monitor", "grafana"]
SOURCES: tuple[Source, ...] = ("alertmanager", "azure-monitor", "grafana")
Status = Literal["firing", "resolved"]
# One scale for every source, most severe first.
Severity = Literal["critical", "high", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "warning", "info")


class MalformedAlert(ValueError):
    """A webhook body that is not a payload of its source; ``str()`` is the short reason."""


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: Status
    starts_at: datetime
    name: str
    summary: str
    severity: Severity
    ends_at: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertBatch:
    """One webhook delivery: the alerts of one group (``group_key``) from one source."""

    source: Source
    group_key: str
    title: str
    alerts: tuple[Alert, ...]

    @property
    def severity(self) -> Severity:
        return min((a.severity for a in self.alerts), key=SEVERITIES.index, default="warning")

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")


def worst(severities: tuple[Severity, ...] | list[Severity]) -> Severity:
    return min(severities, key=SEVERITIES.index, default="warning")
