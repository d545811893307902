"""What deploy requests, approvals and rollbacks answer: values ``bot.render`` shows."""

from __future__ import annotations

from dataclasses import dataclass

from commands.results import LockInfo
from storage import Deployment


@dataclass(frozen=True)
class Started:
    deployment_id: str
    environment: str
    version: str
    approvals_required: int
    existing: bool = False
    signalled: bool = False


@dataclass(frozen=True)
class Busy:
    lock: LockInfo


@dataclass(frozen=True)
class ConfirmRollback:
    environment: str
    version: str
    current: str | None
    reason: str | None


@dataclass(frozen=True)
class Answer:
    """A short ephemeral reply to a click."""

    text: str


def started(d: Deployment, *, existing_row: bool = False) -> Started:
    return Started(d.id, d.environment, d.version, d.approvals_required, existing=existing_row)
