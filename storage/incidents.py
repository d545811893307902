"""The incidents repository: one incident per alert group, the alert episodes inside it.

A whole webhook delivery is applied in one write transaction (``receive``), so a delivery
is either recorded completely or not at all. Whether a delivery opens, joins, reopens or
starts a new incident is decided by the caller's ``decide`` (``commands.incidents``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.deployment_model import Deployment, to_deployment
from storage.errors import NotFoundError
from storage.incident_models import IncidentAlertRow, IncidentRow
from storage.models import DeploymentRow

IncidentState = Literal["open", "acknowledged", "resolved"]
Outcome = Literal["opened", "joined", "reopened", "ignored"]
SEVERITY_ORDER = ("critical", "high", "warning", "info")


@dataclass(frozen=True)
class IncidentAlert:
    fingerprint: str
    starts_at: datetime
    status: str
    name: str
    summary: str
    severity: str
    ends_at: datetime | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    resource_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Incident:
    id: str
    source: str
    group_key: str
    environment: str | None
    mapped_why: str
    state: IncidentState
    severity: str
    title: str
    fire_count: int
    live_version: str | None
    deployment_id: str | None
    rollback_id: str | None
    card_channel: str | None
    card_ts: str | None
    details: Mapping[str, Any]
    triggered_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Received:
    """What one delivery did: the incident after it, and which alerts changed how."""

    incident: Incident | None
    outcome: Outcome
    fired: tuple[IncidentAlert, ...] = ()
    refired: tuple[tuple[IncidentAlert, int], ...] = ()
    resolved: tuple[IncidentAlert, ...] = ()
    incident_resolved: bool = False


# (latest incident of the group or None, does the delivery bring a fresh firing) → what to do
Decide = Callable[[Incident | None, bool], Literal["open", "join", "new", "reopen", "ignore"]]
UPDATABLE = frozenset(
    {
        "state",
        "acknowledged_at",
        "acknowledged_by",
        "mitigated_at",
        "resolved_at",
        "resolved_by",
        "rollback_id",
        "card_channel",
        "card_ts",
        "details",
        "live_version",
    }
)


class Incidents:
    def __init__(self, db: Database, *, new_id: Callable[[], str] | None = None) -> None:
        self._db = db
        self._new_id = new_id or (lambda: uuid.uuid4().hex[:12])

    async def receive(
        self,
        *,
        source: str,
        group_key: str,
        environment: str | None,
        mapped_why: str,
        title: str,
        alerts: Sequence[IncidentAlert],
        decide: Decide,
        context: Mapping[str, Any],
    ) -> Received:
        """Apply one delivery. ``context`` (live_version, deployment_id) is kept on a new
        incident: what was live, and the last deployment, when it was triggered."""
        now = self._db.now()
        async with self._db.write() as session:
            latest = await self._latest(session, source, group_key)
            episodes = await self._episodes(session, latest.id) if latest else {}
            fresh = any(
                a.status == "firing"
                and (
                    (row := episodes.get((a.fingerprint, a.starts_at))) is None
                    or row.status == "resolved"
                )
                for a in alerts
            )
            latest_value = _incident(latest) if latest else None
            choice = decide(latest_value, fresh)
            if choice == "ignore":
                return Received(latest_value, "ignored")
            outcome: Outcome = "joined"
            if choice in ("open", "new") or latest is None:
                latest = IncidentRow(
                    id=self._new_id(),
                    source=source,
                    group_key=group_key,
                    environment=environment,
                    mapped_why=mapped_why,
                    state="open",
                    severity=_worst([a.severity for a in alerts if a.status == "firing"]),
                    title=title,
                    fire_count=0,
                    live_version=context.get("live_version"),
                    deployment_id=context.get("deployment_id"),
                    rollback_id=None,
                    details={},
                    triggered_at=now,
                    updated_at=now,
                )
                session.add(latest)
                await session.flush()
                episodes, outcome = {}, "opened"
            elif choice == "reopen":
                latest.state, latest.resolved_at, latest.resolved_by = "open", None, None
                outcome = "reopened"
            received = self._apply_alerts(session, latest, episodes, alerts, now)
            if latest.state != "resolved" and received["all_resolved"]:
                latest.state, latest.resolved_at, latest.resolved_by = "resolved", now, "monitoring"
            latest.severity = _worst([latest.severity, *(a.severity for a in received["fired"])])
            latest.updated_at = now
            await session.flush()
            return Received(
                _incident(latest),
                outcome,
                fired=tuple(received["fired"]),
                refired=tuple(received["refired"]),
                resolved=tuple(received["resolved"]),
                incident_resolved=latest.state == "resolved" and bool(received["resolved"]),
            )

    def _apply_alerts(
        self,
        session: AsyncSession,
        incident: IncidentRow,
        episodes: dict[tuple[str, datetime], IncidentAlertRow],
        alerts: Sequence[IncidentAlert],
        now: datetime,
    ) -> dict[str, Any]:
        fired: list[IncidentAlert] = []
        refired: list[tuple[IncidentAlert, int]] = []
        resolved: list[IncidentAlert] = []
        by_fingerprint: dict[str, int] = {}
        for fingerprint, _ in episodes:
            by_fingerprint[fingerprint] = by_fingerprint.get(fingerprint, 0) + 1
        for alert in alerts:
            key = (alert.fingerprint, alert.starts_at)
            row = episodes.get(key)
            if alert.status == "resolved" and row is None:
                # A resolve for an episode we never saw fire: the newest one it may close.
                earlier = [r for (f, _), r in episodes.items() if f == alert.fingerprint]
                row = max(earlier, key=lambda r: r.starts_at) if earlier else None
            if row is None and alert.status == "firing":
                # One label set fires one episode at a time: a new one ends the older ones.
                for (f, starts), older in episodes.items():
                    if (
                        f == alert.fingerprint
                        and starts < alert.starts_at
                        and older.status == "firing"
                    ):
                        older.status, older.ends_at, older.last_seen = (
                            "resolved",
                            alert.starts_at,
                            now,
                        )
            if row is None:
                row = IncidentAlertRow(
                    incident_id=incident.id, **_alert_fields(alert), last_seen=now
                )
                session.add(row)
                episodes[key] = row
                if alert.status == "firing":
                    incident.fire_count += 1
                    seen = by_fingerprint.get(alert.fingerprint, 0)
                    by_fingerprint[alert.fingerprint] = seen + 1
                    (refired.append((alert, seen + 1)) if seen else fired.append(alert))
                else:
                    resolved.append(alert)
                continue
            was = row.status
            row.status, row.ends_at, row.last_seen = alert.status, alert.ends_at, now
            row.values, row.summary = dict(alert.values), alert.summary
            if was == "firing" and alert.status == "resolved":
                resolved.append(alert)
            elif was == "resolved" and alert.status == "firing":
                incident.fire_count += 1
                count = by_fingerprint.get(alert.fingerprint, 1) + 1
                by_fingerprint[alert.fingerprint] = count
                refired.append((alert, count))
        all_resolved = all(r.status == "resolved" for r in episodes.values())
        return {
            "fired": fired,
            "refired": refired,
            "resolved": resolved,
            "all_resolved": all_resolved and bool(resolved),
        }

    async def get(self, id: str) -> Incident | None:
        async with self._db.read() as session:
            row = await session.get(IncidentRow, id)
            return None if row is None else _incident(row)

    async def alerts(self, id: str) -> list[IncidentAlert]:
        async with self._db.read() as session:
            query = (
                select(IncidentAlertRow)
                .where(IncidentAlertRow.incident_id == id)
                .order_by(IncidentAlertRow.id)
            )
            return [_alert(r) for r in (await session.execute(query)).scalars()]

    async def update(self, id: str, **fields: Any) -> Incident:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update incident fields {sorted(unknown)}")
        async with self._db.write() as session:
            row = await session.get(IncidentRow, id)
            if row is None:
                raise NotFoundError(f"no incident {id!r}")
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = self._db.now()
            await session.flush()
            return _incident(row)

    async def transition(
        self, id: str, *, from_states: Sequence[str], **fields: Any
    ) -> Incident | None:
        """Compare-and-set on ``state``: None when the incident is in none of ``from_states``."""
        async with self._db.write() as session:
            row = await session.get(IncidentRow, id)
            if row is None or row.state not in from_states:
                return None
            for key, value in fields.items():
                if key not in UPDATABLE:
                    raise ValueError(f"cannot update incident field {key!r}")
                setattr(row, key, value)
            row.updated_at = self._db.now()
            await session.flush()
            return _incident(row)

    async def by_rollback(self, deployment_id: str) -> Incident | None:
        async with self._db.read() as session:
            query = select(IncidentRow).where(IncidentRow.rollback_id == deployment_id).limit(1)
            row = (await session.execute(query)).scalar_one_or_none()
            return None if row is None else _incident(row)

    async def between(
        self, since: datetime, until: datetime, environment: str | None = None
    ) -> list[Incident]:
        async with self._db.read() as session:
            query = select(IncidentRow).where(
                IncidentRow.triggered_at >= since, IncidentRow.triggered_at < until
            )
            if environment is not None:
                query = query.where(IncidentRow.environment == environment)
            query = query.order_by(IncidentRow.triggered_at)
            return [_incident(r) for r in (await session.execute(query)).scalars()]

    async def deployments_between(
        self, since: datetime, until: datetime, environment: str | None = None
    ) -> list[Deployment]:
        """Deployments created in [since, until) and the day after (what followed them):
        the other half of ``/deploy stats``."""
        query = select(DeploymentRow).where(
            DeploymentRow.created_at >= since,
            DeploymentRow.created_at < until + timedelta(days=1),
        )
        if environment is not None:
            query = query.where(DeploymentRow.environment == environment)
        async with self._db.read() as session:
            rows = (await session.execute(query.order_by(DeploymentRow.created_at))).scalars()
            return [to_deployment(r) for r in rows]

    async def _latest(
        self, session: AsyncSession, source: str, group_key: str
    ) -> IncidentRow | None:
        query = (
            select(IncidentRow)
            .where(IncidentRow.source == source, IncidentRow.group_key == group_key)
            .order_by(IncidentRow.triggered_at.desc(), IncidentRow.id.desc())
            .limit(1)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def _episodes(
        self, session: AsyncSession, incident_id: str
    ) -> dict[tuple[str, datetime], IncidentAlertRow]:
        query = select(IncidentAlertRow).where(IncidentAlertRow.incident_id == incident_id)
        rows = (await session.execute(query)).scalars()
        return {(r.fingerprint, r.starts_at): r for r in rows}


def _worst(severities: Sequence[str]) -> str:
    known = [s for s in severities if s in SEVERITY_ORDER]
    return min(known, key=SEVERITY_ORDER.index) if known else "warning"


def _alert_fields(alert: IncidentAlert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "name": alert.name,
        "summary": alert.summary,
        "severity": alert.severity,
        "labels": dict(alert.labels),
        "values": dict(alert.values),
        "links": dict(alert.links),
        "resource_ids": list(alert.resource_ids),
    }


def _alert(row: IncidentAlertRow) -> IncidentAlert:
    return IncidentAlert(
        fingerprint=row.fingerprint,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=row.status,
        name=row.name,
        summary=row.summary,
        severity=row.severity,
        labels=dict(row.labels),
        values=dict(row.values),
        links=dict(row.links),
        resource_ids=tuple(row.resource_ids),
    )


def _incident(row: IncidentRow) -> Incident:
    state = row.state
    assert state in ("open", "acknowledged", "resolved")
    return Incident(
        id=row.id,
        source=row.source,
        group_key=row.group_key,
        environment=row.environment,
        mapped_why=row.mapped_why,
        state=state,  # type: ignore[arg-type]
        severity=row.severity,
        title=row.title,
        fire_count=row.fire_count,
        live_version=row.live_version,
        deployment_id=row.deployment_id,
        rollback_id=row.rollback_id,
        card_channel=row.card_channel,
        card_ts=row.card_ts,
        details=dict(row.details or {}),
        triggered_at=row.triggered_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        updated_at=row.updated_at,
    )
