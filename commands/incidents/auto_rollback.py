"""The automatic-rollback policy (PRODUCT §5, the seeds' incident policy).

A critical alert within ``auto_rollback_within`` after a deployment finished rolls that
deployment back without waiting for a click: through the same creation path as /rollback
(``Creation.create``, kind ``rollback``), once per incident (a flag on the incident and the
job's idempotency key), and never while another job holds the environment: it waits for the
lock to be free, then checks everything again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from commands.deploy_results import Started
from commands.incidents.responding import Responder, RollbackPlan
from commands.jobs.notes import TextNote
from storage import Incident

BOT = "deploybot"
Sleep = Callable[[float], Awaitable[None]]


class AutoRollback:
    def __init__(
        self, responder: Responder, *, sleep: Sleep = asyncio.sleep, poll_s: float = 1.0
    ) -> None:
        self.responder = responder
        self.sleep = sleep
        self.poll_s = poll_s

    def window(self, environment: str) -> timedelta | None:
        config = self.responder.config
        env = config.environments[environment]
        return env.incidents.auto_rollback_within or config.incidents.auto_rollback_within

    async def consider(self, incident_id: str) -> Started | None:
        """Roll back now if the policy says so; None when it does not (or not any more)."""
        while True:
            incident = await self.responder.incidents.get(incident_id)
            if incident is None:
                return None
            found = await self._applies(incident)
            if found is None:
                return None
            plan, after = found
            lock = await self.responder.store.locks.get(plan.environment)
            if lock is None:
                return await self._roll_back(incident, plan, after)
            window = self.window(plan.environment) or timedelta(0)
            if self.responder.clock() - incident.triggered_at > window:
                await self.responder.notifier.note(
                    incident.id,
                    f"No automatic rollback: {plan.environment} stayed locked by "
                    f"{lock.holder} for longer than {window}.",
                )
                return None
            # Another job (or a manual lock) holds the environment: wait, then decide again.
            await self.sleep(self.poll_s)

    async def _applies(self, incident: Incident) -> tuple[RollbackPlan, timedelta] | None:
        if incident.severity != "critical" or incident.state == "resolved":
            return None
        if incident.details.get("auto_rollback") or incident.rollback_id is not None:
            return None  # never twice for one incident
        if incident.environment is None:
            return None
        window = self.window(incident.environment)
        last = await self.responder.last_deployment(incident)
        if window is None or last is None or last.kind == "rollback":
            return None
        after = incident.triggered_at - (last.finished_at or last.created_at)
        if not timedelta(0) <= after <= window:
            return None
        if await self.responder.newer_deployment(incident) is not None:
            return None
        plan = await self.responder.rollback_plan(incident)
        return (plan, after) if isinstance(plan, RollbackPlan) else None

    async def _roll_back(
        self, incident: Incident, plan: RollbackPlan, after: timedelta
    ) -> Started | None:
        responder = self.responder
        claimed = await responder.incidents.transition(
            incident.id,
            from_states=("open", "acknowledged"),
            details={**incident.details, "auto_rollback": True},
        )
        if claimed is None or incident.details.get("auto_rollback"):
            return None
        env = responder.config.environments[plan.environment]
        result = await responder.deploys.creation.create(
            BOT,
            env,
            "rollback",
            plan.target,
            "bluegreen",
            f"automatic: critical incident {incident.id} within "
            f"{self.window(plan.environment)} of deployment {incident.deployment_id}",
            f"incident:{incident.id}",
            required=0,
            flags={"automatic": True},
        )
        if not isinstance(result, Started):
            await responder.notifier.note(
                incident.id, f"Automatic rollback of {plan.environment} not started: {result}"
            )
            return None
        why = (
            f"Automatic rollback: a critical alert came {duration(after)} after "
            f"this deployment; rolling {plan.environment} back to {plan.target} "
            f"(deployment {result.deployment_id})."
        )
        await responder.linked(BOT, claimed, result, plan, automatic=True)
        if incident.deployment_id is not None:
            await responder.deploys.tools.reporter.note(
                incident.deployment_id, TextNote(f"{why} Incident {incident.id}: {incident.title}")
            )
        return result


def duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"
