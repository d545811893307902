"""What the desk answers: plain values that ``bot.render`` turns into Slack messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Refused:
    """A polite no: why, and who could do it instead."""

    reason: str
    ask: tuple[str, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class LockInfo:
    environment: str
    holder: str
    kind: str
    reason: str | None
    since: datetime
    deployment_id: str | None = None


@dataclass(frozen=True)
class Locked:
    lock: LockInfo


@dataclass(frozen=True)
class Unlocked:
    environment: str
    previous: LockInfo


@dataclass(frozen=True)
class AlreadyLocked:
    lock: LockInfo


@dataclass(frozen=True)
class NotLocked:
    environment: str


@dataclass(frozen=True)
class TargetLine:
    name: str
    version: str | None
    traffic_percent: float
    monitor_status: str | None = None


@dataclass(frozen=True)
class EnvironmentStatus:
    name: str
    aliases: tuple[str, ...]
    topology: str
    strategy: str
    live_version: str | None
    targets: tuple[TargetLine, ...] = ()
    lock: LockInfo | None = None
    job: str | None = None
    live_error: str | None = None
    approvals_required: int = 0
    freeze: str | None = None
    live_read_at: datetime | None = None  # when the live state shown was read from Azure


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    environment: str
    deployment_id: str | None
    requested_by: str
    kind: str
    from_version: str | None
    to_version: str | None
    strategy: str | None
    outcome: str
    duration_s: float | None


@dataclass(frozen=True)
class History:
    environment: str | None
    entries: tuple[HistoryEntry, ...] = field(default_factory=tuple)
