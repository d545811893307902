"""Alert deliveries in, incidents out: map, group, record (one transaction), audit, notify."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from commands.config.model import Config
from commands.incidents.alerts import Alert, AlertBatch, Source
from commands.incidents.grouping import decider
from commands.incidents.mapping import environment_of
from storage import Deployment, IncidentAlert, Incidents, Received, Store


class IncidentNotifier(Protocol):
    """What the Slack edge does when an incident changes (``bot.incidents.reporter``)."""

    async def changed(self, incident_id: str) -> None: ...

    async def note(self, incident_id: str, text: str) -> None: ...

    async def link_job(self, incident_id: str, deployment_id: str) -> None:
        """Post a link to that job's card in the incident thread, once the card exists."""


@dataclass(frozen=True)
class Accepted:
    received: Received
    environment: str | None
    why: str

    @property
    def summary(self) -> dict[str, Any]:
        incident = self.received.incident
        return {
            "incident": incident.id if incident else None,
            "outcome": self.received.outcome,
            "environment": self.environment,
        }


class Intake:
    def __init__(
        self,
        config: Config,
        store: Store,
        incidents: Incidents,
        clock: Callable[[], datetime],
        notifier: IncidentNotifier,
    ) -> None:
        self.config = config
        self.store = store
        self.incidents = incidents
        self.clock = clock
        self.notifier = notifier
        self._announcing: dict[str, asyncio.Lock] = {}
        # Run after each announcement (the automatic-rollback policy, ``auto_rollback``).
        self.policy: Callable[[str], Awaitable[object]] | None = None

    async def receive(self, batch: AlertBatch) -> Accepted:
        mapped = environment_of(self.config, batch)
        context: dict[str, Any] = {}
        if mapped.environment is not None:
            last = await self.store.deployments.last_successful(mapped.environment)
            if last is not None:
                context = {"live_version": last.version, "deployment_id": last.id}
        received = await self.incidents.receive(
            source=batch.source,
            group_key=batch.group_key,
            environment=mapped.environment,
            mapped_why=mapped.why,
            title=batch.title,
            alerts=[stored(a) for a in batch.alerts],
            decide=decider(self.clock(), self.config.incidents.cooldown),
            context=context,
        )
        accepted = Accepted(received, mapped.environment, mapped.why)
        await self._audit(batch, accepted)
        return accepted

    async def announce(self, accepted: Accepted) -> None:
        """Tell Slack (after the webhook was answered): the card, and the thread's log."""
        incident = accepted.received.incident
        if incident is None:
            return
        async with self._announcing.setdefault(incident.id, asyncio.Lock()):
            await self._tell(accepted)
        if self.policy is not None and accepted.received.outcome != "ignored":
            await self.policy(incident.id)

    async def refused(self, source: Source, status: int, reason: str, remote: str) -> None:
        await self.store.audit.append(
            source,
            "alert.refused",
            details={"status": status, "reason": reason, "remote": remote},
        )

    async def _audit(self, batch: AlertBatch, accepted: Accepted) -> None:
        incident = accepted.received.incident
        env = incident.environment if incident else accepted.environment
        for alert in batch.alerts:
            await self.store.audit.append(
                batch.source,
                "alert.received",
                environment=env,
                details={
                    **accepted.summary,
                    "mapped": accepted.why,
                    "alert": alert.name,
                    "fingerprint": alert.fingerprint,
                    "status": alert.status,
                    "severity": alert.severity,
                    "starts_at": alert.starts_at.isoformat(),
                },
            )
        if incident is not None and accepted.received.outcome in ("opened", "reopened"):
            await self.store.audit.append(
                batch.source,
                f"incident.{accepted.received.outcome}",
                environment=env,
                details={"incident": incident.id, "severity": incident.severity},
            )
        if incident is not None and accepted.received.incident_resolved:
            await self.store.audit.append(
                batch.source,
                "incident.resolved",
                environment=env,
                details={"incident": incident.id},
            )

    async def _tell(self, accepted: Accepted) -> None:
        received = accepted.received
        incident = received.incident
        assert incident is not None
        if received.outcome != "opened":
            if received.outcome == "reopened":
                await self.notifier.note(
                    incident.id, "Reopened: it fired again after it was resolved."
                )
            for alert, count in received.refired:
                await self.notifier.note(incident.id, f"{alert.summary}: fired again ×{count}")
            for alert in received.fired:
                await self.notifier.note(incident.id, f"Also firing: {alert.summary}")
            for alert in received.resolved:
                await self.notifier.note(incident.id, f"Resolved: {alert.summary}")
        await self.notifier.changed(incident.id)

    async def last_deployment(self, deployment_id: str | None) -> Deployment | None:
        return await self.store.deployments.get(deployment_id) if deployment_id else None


def stored(alert: Alert) -> IncidentAlert:
    return IncidentAlert(
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        status=alert.status,
        name=alert.name,
        summary=alert.summary,
        severity=alert.severity,
        labels=alert.labels,
        values=alert.values,
        links=alert.links,
        resource_ids=alert.resource_ids,
    )
