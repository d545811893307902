"""What a job tells the deployment's thread, as values; ``bot`` renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commands.probes.results import HealthReport


@dataclass(frozen=True)
class StepNote:
    step: str
    label: str
    ok: bool
    detail: str
    duration_s: float | None = None


@dataclass(frozen=True)
class HealthNote:
    where: str
    report: HealthReport


@dataclass(frozen=True)
class ErrorNote:
    step: str
    message: str
    code: str | None = None


@dataclass(frozen=True)
class ApprovalNote:
    user: str
    decision: str
    reason: str | None
    count: int
    required: int


@dataclass(frozen=True)
class SwitchNote:
    """Traffic moved: what was done, how long the switch took, and whether it is effective yet."""

    method: str
    from_target: str | None
    to_target: str
    duration_s: float
    effective: str


@dataclass(frozen=True)
class TextNote:
    text: str


@dataclass(frozen=True)
class StagePoint:
    """One analysis interval of one side of a canary: when it ended and what it measured."""

    at: datetime
    error_rate: float | None
    latency_ms: float | None


@dataclass(frozen=True)
class StageNote:
    """A canary stage ended (passed or breached): its summary and the series to chart."""

    text: str
    title: str
    canary: tuple[StagePoint, ...]
    baseline: tuple[StagePoint, ...]
    max_error_rate: float
    max_p95_ms: float


Note = StepNote | HealthNote | ErrorNote | ApprovalNote | SwitchNote | TextNote | StageNote


class Reporter(Protocol):
    """Keeps the card and the thread of a deployment true. Implemented at the Slack edge."""

    async def changed(self, deployment_id: str) -> None:
        """The deployment's stored state changed: re-render its card."""
        ...

    async def note(self, deployment_id: str, note: Note) -> None:
        """Add a reply to the deployment's thread (queued: it must not hold up the job)."""
        ...

    async def flush(self) -> None:
        """Wait until the card and the thread show everything reported so far."""
        ...
