"""Several replicas on one database: the lease timing, replica names and cross-replica signals.

Every job runs under a lease (``storage.leases``) its runner renews every third of the lease
time; a replica that dies stops renewing, and another replica's runner takes the job over
once the lease has expired, through the same recovery as a restart. A click or a command
that reaches a replica not running the job leaves a signal in the database; the job's
replica takes it within ``signal_poll_s`` and hands it to the job as a local click would be.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from commands.jobs.canary_control import ACTIONS, ask
from commands.jobs.watch import rollback_signal

if TYPE_CHECKING:
    from commands.jobs.base import JobTools

DEFAULT_LEASE = timedelta(seconds=10)
# Shorter leases spend the database on renewals and let a slow round trip cost a job.
MIN_LEASE = timedelta(seconds=1)
ROLLBACK = "rollback"
SIGNAL_ACTIONS: frozenset[str] = frozenset({ROLLBACK, *ACTIONS})


@dataclass(frozen=True)
class LeaseTiming:
    """How long a job's lease lasts without renewal; renewals and polls follow from it."""

    ttl: timedelta = DEFAULT_LEASE

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError(f"the job lease must be positive, got {self.ttl}")

    @property
    def renew_every_s(self) -> float:
        return self.ttl.total_seconds() / 3

    @property
    def signal_poll_s(self) -> float:
        return min(0.5, self.ttl.total_seconds() / 4)


def replica_name() -> str:
    """This process among the replicas: host and pid for people, a random tail for safety
    (a restarted process never mistakes its predecessor's leases for its own)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def deliver(tools: JobTools, deployment_id: str, action: str, actor: str) -> None:
    """Hand a person's wish to the job running in this process, as a local click does."""
    if action == ROLLBACK:
        tools.rollback_requested_by[deployment_id] = actor
        rollback_signal(tools, deployment_id).set()
        return
    for known in ACTIONS:
        if action == known:
            ask(tools, deployment_id, known, actor)
            return
    raise ValueError(f"unknown job signal {action!r}")
