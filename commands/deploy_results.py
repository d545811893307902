"""What deploy requests, approvals and rollbacks answer: values ``bot.render`` shows."""

from __future__ import annotations

from dataclasses import dataclass

from commands.requests import Deploy
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
    place: int | None = None
    """Its place in the environment's line when it waits for the environment."""
    already: str | None = None
    """The state of the same request already on its way, which this one turned out to be."""


@dataclass(frozen=True)
class Busy:
    lock: LockInfo
    offer: Deploy | None = None
    """The request to put in the environment's line if the requester clicks Queue it."""
    offer_key: str | None = None
    """Names the offer, so a second click on the same Queue it button queues nothing more."""


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
