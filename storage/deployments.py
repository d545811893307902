"""The deployments repository: every step of a job is persisted here as it happens, so a
restarted process can tell what was in flight and where it stood.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exc, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.approvals import Approval, Approvals, Decision
from storage.db import Database
from storage.deployment_model import (
    FINISHED_STEP_STATUSES,
    TERMINAL_STATES,
    UPDATABLE_FIELDS,
    Deployment,
    DeploymentKind,
    Step,
    StepStatus,
    approvals_required_value,
    deployment_kind,
    step_status,
    steps_json,
    to_deployment,
    updatable_changes,
)
from storage.errors import NotFoundError
from storage.in_flight import on_its_way
from storage.models import DeploymentRow
from storage.timeutil import as_utc
from storage.validate import json_object, optional_text, require_positive_int, require_text

__all__ = [
    "TERMINAL_STATES",
    "UPDATABLE_FIELDS",
    "Approval",
    "Approvals",
    "Decision",
    "Deployment",
    "DeploymentKind",
    "Deployments",
    "Step",
    "StepStatus",
]


class Deployments:
    def __init__(self, db: Database, *, new_id: Callable[[], str] | None = None) -> None:
        self._db = db
        self._new_id = new_id or (lambda: uuid.uuid4().hex)

    async def create(self, **fields: Any) -> Deployment:
        """Create a deployment, or return the existing one with the same idempotency key.

        Takes the arguments of ``create_once``.
        """
        deployment, _created = await self.create_once(**fields)
        return deployment

    async def create_once(
        self,
        *,
        kind: DeploymentKind,
        environment: str,
        version: str,
        strategy: str,
        requested_by: str,
        from_version: str | None = None,
        reason: str | None = None,
        state: str = "pending",
        steps: Sequence[str | Step | Mapping[str, Any]] = (),
        flags: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        approvals_required: int = 0,
        idempotency_key: str | None = None,
        card_channel: str | None = None,
        card_ts: str | None = None,
        expires_at: datetime | None = None,
        id: str | None = None,
        unless_in: Collection[str] = (),
    ) -> tuple[Deployment, bool]:
        """Like ``create``, also saying whether this call created the row (False: it existed).

        A retried request carrying the same ``idempotency_key`` never creates a second row;
        with ``unless_in``, neither does one whose kind and version are already on their way
        to the environment in one of those states (that request is returned instead).
        """
        now = self._db.now()
        values: dict[str, Any] = {
            "id": require_text("id", self._new_id() if id is None else id),
            "kind": deployment_kind(kind),
            "environment": require_text("environment", environment),
            "version": require_text("version", version),
            "strategy": require_text("strategy", strategy),
            "requested_by": require_text("requested_by", requested_by),
            "from_version": optional_text("from_version", from_version),
            "reason": reason,
            "state": require_text("state", state),
            "current_step": None,
            "steps": steps_json(steps),
            "flags": json_object("flags", flags or {}),
            "context": json_object("context", context or {}),
            "error": None,
            "approvals_required": approvals_required_value(approvals_required),
            "idempotency_key": optional_text("idempotency_key", idempotency_key),
            "card_channel": optional_text("card_channel", card_channel),
            "card_ts": optional_text("card_ts", card_ts),
            "created_at": now,
            "updated_at": now,
            "finished_at": now if state in TERMINAL_STATES else None,
            "expires_at": None if expires_at is None else as_utc(expires_at, "expires_at"),
        }
        return await self._insert_or_get(values, unless_in)

    async def _insert_or_get(
        self, values: dict[str, Any], unless_in: Collection[str]
    ) -> tuple[Deployment, bool]:
        key = values["idempotency_key"]
        for attempt in range(3):
            try:
                async with self._db.write() as session:
                    if key is not None:
                        existing = await _by_key(session, key)
                        if existing is not None:
                            return to_deployment(existing), False
                    if unless_in:
                        same = (values["environment"], values["kind"], values["version"])
                        existing = await on_its_way(session, *same, unless_in)
                        if existing is not None:
                            return to_deployment(existing), False
                    row = DeploymentRow(**values)
                    session.add(row)
                    await session.flush()
                    return to_deployment(row), True
            except exc.IntegrityError:
                # Another replica inserted the same key between our read and our insert
                # (PostgreSQL); the next attempt returns its row. A clashing id is a bug.
                if key is None or attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, id: str) -> Deployment | None:
        async with self._db.read() as session:
            row = await session.get(DeploymentRow, id)
            return None if row is None else to_deployment(row)

    async def get_by_idempotency_key(self, key: str) -> Deployment | None:
        async with self._db.read() as session:
            row = await _by_key(session, key)
            return None if row is None else to_deployment(row)

    async def update(self, id: str, **fields: Any) -> Deployment:
        """Change ``fields`` (see UPDATABLE_FIELDS) and ``updated_at``; return the new state.

        Moving to a terminal state stamps ``finished_at`` unless given or already set.
        """
        changes = updatable_changes(fields)
        async with self._db.write() as session:
            row = await _locked(session, id)
            self._apply(row, changes)
            return to_deployment(row)

    async def transition(
        self, id: str, *, from_states: Collection[str], to_state: str, **fields: Any
    ) -> Deployment | None:
        """Compare-and-set: move to ``to_state`` only if the state is one of ``from_states``.

        Returns None (changing nothing) otherwise, so of two racing decisions — an approval
        and an expiry, a double-clicked button — exactly one wins.
        """
        if isinstance(from_states, str):
            from_states = {from_states}
        changes = updatable_changes({**fields, "state": to_state})
        async with self._db.write() as session:
            row = await _locked(session, id)
            if row.state not in from_states:
                return None
            self._apply(row, changes)
            return to_deployment(row)

    async def set_step(
        self, id: str, name: str, status: StepStatus, detail: str | None = None
    ) -> Deployment:
        """Record a step's status (adding the step if new), stamping its start and finish."""
        require_text("step name", name)
        status = step_status(status)
        optional_text("step detail", detail)
        async with self._db.write() as session:
            row = await _locked(session, id)
            now = self._db.now()
            steps = [Step.from_json(step) for step in row.steps or ()]
            index = next((i for i, step in enumerate(steps) if step.name == name), None)
            old = steps[index] if index is not None else Step(name)
            started = old.started_at
            if started is None and status != "pending":
                started = now
            finished = now if status in FINISHED_STEP_STATUSES else None
            new = Step(name, status, detail, None if status == "pending" else started, finished)
            if index is None:
                steps.append(new)
            else:
                steps[index] = new
            row.steps = [step.to_json() for step in steps]
            if status == "running":
                row.current_step = name
            row.updated_at = now
            return to_deployment(row)

    async def unfinished(self) -> list[Deployment]:
        """Deployments not in a terminal state, oldest first: what a restart must reconcile."""
        query = (
            select(DeploymentRow)
            .where(DeploymentRow.state.not_in(TERMINAL_STATES))
            .order_by(DeploymentRow.created_at, DeploymentRow.id)
        )
        return await self._fetch(query)

    async def card_shown(self, deployment_id: str, state: str) -> None:
        """Slack confirmed the deployment's card now shows ``state``."""
        await self.update(deployment_id, card_state=state)

    async def stale_cards(self, since: datetime, *, limit: int = 200) -> list[Deployment]:
        """Deployments finished since ``since`` whose card in Slack shows another state."""
        query = (
            select(DeploymentRow)
            .where(
                DeploymentRow.state.in_(TERMINAL_STATES),
                DeploymentRow.card_ts.is_not(None),
                DeploymentRow.finished_at >= as_utc(since, "since"),
                or_(
                    DeploymentRow.card_state.is_(None),
                    DeploymentRow.card_state != DeploymentRow.state,
                ),
            )
            .order_by(DeploymentRow.finished_at, DeploymentRow.id)
            .limit(require_positive_int("limit", limit))
        )
        return await self._fetch(query)

    async def latest(
        self, environment: str, *, states: Collection[str] | None = None, limit: int = 10
    ) -> list[Deployment]:
        """The environment's newest deployments first, optionally only in ``states``."""
        query = select(DeploymentRow).where(DeploymentRow.environment == environment)
        if states is not None:
            query = query.where(
                DeploymentRow.state.in_([states] if isinstance(states, str) else states)
            )
        query = query.order_by(DeploymentRow.created_at.desc(), DeploymentRow.id.desc())
        return await self._fetch(query.limit(require_positive_int("limit", limit)))

    async def last_successful(
        self,
        environment: str,
        before_id: str | None = None,
        *,
        other_than_version: str | None = None,
    ) -> Deployment | None:
        """The newest succeeded, non-dry-run deployment (of any kind) in ``environment``.

        With ``before_id``, only deployments created before that one count (the rollback
        target is the last good version before the live one); ``other_than_version`` skips
        deployments of that version. Raises NotFoundError for an unknown ``before_id``.
        """
        query = select(DeploymentRow).where(
            DeploymentRow.environment == environment, DeploymentRow.state == "succeeded"
        )
        if before_id is not None:
            reference = await self.get(before_id)
            if reference is None:
                raise NotFoundError(f"no deployment {before_id!r}")
            query = query.where(DeploymentRow.created_at < reference.created_at)
        if other_than_version is not None:
            query = query.where(DeploymentRow.version != other_than_version)
        query = query.order_by(DeploymentRow.created_at.desc(), DeploymentRow.id.desc())
        async with self._db.read() as session:
            for row in (await session.execute(query)).scalars():
                deployment = to_deployment(row)
                if not deployment.is_dry_run:
                    return deployment
        return None

    async def has_succeeded(self, environment: str, version: str) -> bool:
        """Whether ``version`` was deployed to ``environment`` successfully (not a dry run,
        not a rollback to it): what a promotion order asks of the environment before."""
        query = (
            select(DeploymentRow)
            .where(
                DeploymentRow.environment == require_text("environment", environment),
                DeploymentRow.version == require_text("version", version),
                DeploymentRow.state == "succeeded",
                DeploymentRow.kind.in_(("deploy", "canary")),
            )
            .order_by(DeploymentRow.created_at.desc())
        )
        async with self._db.read() as session:
            for row in (await session.execute(query)).scalars():
                if not to_deployment(row).is_dry_run:
                    return True
        return False

    async def _fetch(self, query: Any) -> list[Deployment]:
        async with self._db.read() as session:
            return [to_deployment(row) for row in (await session.execute(query)).scalars()]

    def _apply(self, row: DeploymentRow, changes: Mapping[str, Any]) -> None:
        now = self._db.now()
        for name, value in changes.items():
            setattr(row, name, value)
        if (
            changes.get("state") in TERMINAL_STATES
            and "finished_at" not in changes
            and row.finished_at is None
        ):
            row.finished_at = now
        row.updated_at = now


async def _by_key(session: AsyncSession, key: str) -> DeploymentRow | None:
    query = select(DeploymentRow).where(DeploymentRow.idempotency_key == key)
    return (await session.execute(query)).scalar_one_or_none()


async def _locked(session: AsyncSession, id: str) -> DeploymentRow:
    row = await session.get(DeploymentRow, id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"no deployment {id!r}")
    return row
