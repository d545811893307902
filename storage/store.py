"""``Store``: the database and every repository over it, opened and closed together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from storage.approvals import Approvals
from storage.audit import AuditLog
from storage.audit_key import Keyring
from storage.db import Database, Opening
from storage.deployments import Deployments
from storage.job_signals import JobSignals
from storage.leases import Leases
from storage.locks import Locks
from storage.timeutil import Clock


@dataclass(frozen=True)
class Store:
    db: Database
    audit: AuditLog
    locks: Locks
    deployments: Deployments
    approvals: Approvals
    # Several replicas on one database: who runs each job, and clicks for jobs elsewhere.
    leases: Leases
    signals: JobSignals

    @classmethod
    def over(
        cls,
        db: Database,
        *,
        new_id: Callable[[], str] | None = None,
        audit_keys: Keyring | None = None,
    ) -> Store:
        """Repositories over an already open ``db``; ``new_id`` makes ids deterministic;
        ``audit_keys`` key the audit log (``storage.audit_key``)."""
        return cls(
            db=db,
            audit=AuditLog(db, new_id=new_id, keyring=audit_keys),
            locks=Locks(db),
            deployments=Deployments(db, new_id=new_id),
            approvals=Approvals(db),
            leases=Leases(db),
            signals=JobSignals(db),
        )

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        new_id: Callable[[], str] | None = None,
        busy_timeout: float = 30.0,
        audit_keys: Keyring | None = None,
    ) -> Opening[Store]:
        """Open the database (upgrading its schema) and build the repositories.

        ``await Store.open(url)`` or ``async with Store.open(url) as store``.
        """

        async def opener() -> Store:
            db = await Database.open(url, clock=clock, busy_timeout=busy_timeout)
            return cls.over(db, new_id=new_id, audit_keys=audit_keys)

        return Opening(opener, Store.close)

    async def ping(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
