"""What a user asked for, once parsed: plain values, no Slack and no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Strategy = Literal["bluegreen", "canary"]


@dataclass(frozen=True)
class Help:
    command: str


@dataclass(frozen=True)
class Status:
    environment: str | None


@dataclass(frozen=True)
class History:
    environment: str | None
    limit: int


@dataclass(frozen=True)
class Lock:
    environment: str
    reason: str | None


@dataclass(frozen=True)
class Unlock:
    environment: str


@dataclass(frozen=True)
class Deploy:
    environment: str
    version: str
    strategy: Strategy | None
    dry_run: bool
    force: bool
    reason: str | None
    stages: tuple[int, ...] | None
    queue: bool = False
    """Join the environment's line if it is busy (the Queue it button) instead of refusing."""

    def resolved_strategy(self, default: Strategy) -> Strategy:
        return self.strategy or default


@dataclass(frozen=True)
class Rollback:
    environment: str
    version: str | None
    reason: str | None


@dataclass(frozen=True)
class Cancel:
    """Withdraw a request that has not started: by environment, or by deployment id."""

    environment: str | None
    deployment_id: str | None


@dataclass(frozen=True)
class UsageError:
    """A polite refusal: what was wrong and what to type instead."""

    problem: str
    usage: str


@dataclass(frozen=True)
class Stats:
    environment: str | None
    days: int


Request = Help | Status | History | Lock | Unlock | Cancel | Deploy | Rollback | Stats
