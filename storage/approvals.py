"""Approvals and rejections of a deployment: one decision per person, however often they click."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import exc, insert, select

from storage.db import Database
from storage.errors import InvalidValueError, NotFoundError
from storage.models import ApprovalRow, DeploymentRow
from storage.validate import require_text

Decision = Literal["approve", "reject"]
DECISIONS: frozenset[str] = frozenset({"approve", "reject"})


@dataclass(frozen=True, slots=True)
class Approval:
    deployment_id: str
    approver: str
    decision: Decision
    reason: str | None
    at: datetime


class Approvals:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self, deployment_id: str, approver: str, decision: Decision, reason: str | None = None
    ) -> bool:
        """Record ``approver``'s decision; False if they had already decided (nothing changes).

        Raises NotFoundError for an unknown deployment.
        """
        require_text("deployment_id", deployment_id)
        require_text("approver", approver)
        if decision not in DECISIONS:
            raise InvalidValueError(f"decision must be 'approve' or 'reject', got {decision!r}")
        try:
            async with self._db.write() as session:
                if await session.get(DeploymentRow, deployment_id) is None:
                    raise NotFoundError(f"no deployment {deployment_id!r}")
                already = await session.execute(
                    select(ApprovalRow.id).where(
                        ApprovalRow.deployment_id == deployment_id,
                        ApprovalRow.approver == approver,
                    )
                )
                if already.first() is not None:
                    return False
                await session.execute(
                    insert(ApprovalRow).values(
                        deployment_id=deployment_id,
                        approver=approver,
                        decision=decision,
                        reason=reason,
                        at=self._db.now(),
                    )
                )
            return True
        except exc.IntegrityError:
            # PostgreSQL: the same person's other click won the race; the unique
            # constraint on (deployment_id, approver) kept it to one row.
            return False

    async def for_deployment(self, deployment_id: str) -> list[Approval]:
        """Every decision on the deployment, in the order they were made."""
        query = (
            select(ApprovalRow)
            .where(ApprovalRow.deployment_id == deployment_id)
            .order_by(ApprovalRow.at, ApprovalRow.id)
        )
        async with self._db.read() as session:
            return [
                Approval(
                    deployment_id=row.deployment_id,
                    approver=row.approver,
                    decision=cast(Decision, row.decision),
                    reason=row.reason,
                    at=row.at,
                )
                for row in (await session.execute(query)).scalars()
            ]
