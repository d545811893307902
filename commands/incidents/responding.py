"""What people do with an incident: acknowledge, resolve, roll back (through the normal
rollback path, ``Deploys.rollback``), and what the end of that rollback records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from commands import policy
from commands.config.model import Config
from commands.deploy_results import Answer, Busy, Started
from commands.deploys import Deploys
from commands.incidents.intake import IncidentNotifier
from commands.incidents.live import LiveReading, read_live
from commands.results import Refused
from storage import Deployment, Incident, Incidents, Store

NOT_REAL = frozenset({"rejected", "expired", "cancelled"})
LIVE_TTL_S = 5.0


@dataclass(frozen=True)
class RollbackPlan:
    """The button's promise: from what is live to the version before the last deployment."""

    environment: str
    current: str | None
    target: str


class Responder:
    def __init__(
        self,
        config: Config,
        store: Store,
        incidents: Incidents,
        deploys: Deploys,
        clock: Callable[[], datetime],
        notifier: IncidentNotifier,
    ) -> None:
        self.config = config
        self.store = store
        self.incidents = incidents
        self.deploys = deploys
        self.clock = clock
        self.notifier = notifier
        self._live: dict[str, tuple[float, LiveReading]] = {}

    # -- acknowledge / resolve ---------------------------------------------------------------
    async def acknowledge(self, actor: str, incident_id: str) -> Answer | Refused:
        now = self.clock()
        done = await self.incidents.transition(
            incident_id,
            from_states=("open",),
            state="acknowledged",
            acknowledged_at=now,
            acknowledged_by=actor,
        )
        if done is None:
            return await self._not_now(incident_id, "acknowledge")
        await self._audit(actor, "incident.acknowledged", done)
        await self.notifier.note(done.id, f"Acknowledged by {name(actor)}.")
        await self.notifier.changed(done.id)
        return Answer(f"You acknowledged incident {done.id}.")

    async def unacknowledge(self, actor: str, incident_id: str) -> Answer | Refused:
        done = await self.incidents.transition(
            incident_id, from_states=("acknowledged",), state="open", acknowledged_by=None
        )
        if done is None:
            return await self._not_now(incident_id, "unacknowledge")
        await self._audit(actor, "incident.unacknowledged", done)
        await self.notifier.note(done.id, f"Unacknowledged by {name(actor)}.")
        await self.notifier.changed(done.id)
        return Answer(f"Incident {done.id} is open again.")

    async def resolve(self, actor: str, incident_id: str) -> Answer | Refused:
        done = await self.incidents.transition(
            incident_id,
            from_states=("open", "acknowledged"),
            state="resolved",
            resolved_at=self.clock(),
            resolved_by=actor,
        )
        if done is None:
            return await self._not_now(incident_id, "resolve")
        await self._audit(actor, "incident.resolved", done)
        await self.notifier.note(done.id, f"Resolved by {name(actor)}.")
        await self.notifier.changed(done.id)
        return Answer(f"You resolved incident {done.id}.")

    # -- what is live ------------------------------------------------------------------------
    async def refresh_live(
        self, incident: Incident, *, fresh: bool = False
    ) -> tuple[Incident, LiveReading | None]:
        """Ask Azure what the incident's environment serves now; keep it on the incident.
        A reading younger than ``LIVE_TTL_S`` is reused (an alert storm redraws the card
        often), unless ``fresh`` (a click acts on it)."""
        env = incident.environment
        if env is None or incident.state == "resolved":
            return incident, None
        now = time.monotonic()
        cached = self._live.get(env)
        if not fresh and cached is not None and now - cached[0] < LIVE_TTL_S:
            reading = cached[1]
        else:
            reading = await read_live(self.deploys.tools.platform, self.config, env)
            self._live[env] = (now, reading)
        if reading.from_platform and reading.version != incident.live_version:
            incident = await self.incidents.update(incident.id, live_version=reading.version)
        return incident, reading

    # -- roll back ---------------------------------------------------------------------------
    async def rollback_plan(self, incident: Incident) -> RollbackPlan | str:
        """What [Roll back to vX] would do, or why there is no such button: from what is
        live (as last read from Azure) to the version before the last deployment."""
        if incident.environment is None:
            return "this alert maps to no environment, so there is nothing to roll back"
        last = await self.last_deployment(incident)
        if last is None:
            return f"deploybot has no deployment on {incident.environment} to undo"
        if last.from_version is None or last.from_version == last.version:
            return f"the last deployment on {incident.environment} has no earlier version"
        if incident.rollback_id is None and (newer := await self.newer_deployment(incident)):
            return f"a newer deployment exists since this alert ({newer.kind} of {newer.version})"
        current = incident.live_version or last.version
        if current == last.from_version and incident.rollback_id is None:
            return f"{incident.environment} already runs {current}"
        return RollbackPlan(incident.environment, current, last.from_version)

    async def last_deployment(self, incident: Incident) -> Deployment | None:
        if incident.deployment_id is None:
            return None
        return await self.store.deployments.get(incident.deployment_id)

    async def rollback(
        self, actor: str, incident_id: str, groups: policy.Groups
    ) -> Started | Busy | Refused | Answer:
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return Answer("I don't know that incident.")
        if incident.environment is not None:
            env = self.config.environments[incident.environment]
            # The rule, stricter than /rollback's: deployers only, not approvers.
            deployers = policy.deployers(self.config, env, groups)
            if actor not in deployers:
                reason = f"you can't roll back {env.name}: only its deployers can"
                await self._audit(actor, "incident.rollback_refused", incident, reason=reason)
                return Refused(reason, tuple(sorted(deployers)))
        incident, _ = await self.refresh_live(incident, fresh=True)
        if incident.rollback_id is not None:
            return Answer(
                f"A rollback for this incident was already started ({incident.rollback_id})."
            )
        if incident.environment is not None and (newer := await self.newer_deployment(incident)):
            await self._audit(
                actor, "incident.rollback_refused", incident, reason="newer deployment"
            )
            last = await self.last_deployment(incident)
            target = last.from_version if last else None
            return Refused(
                f"a newer deployment exists since this alert: {newer.version} "
                f"({newer.kind} {newer.id}, {newer.state})",
                hint=f"If {target} is still right, use /rollback {incident.environment} {target}."
                if target
                else None,
            )
        plan = await self.rollback_plan(incident)
        if isinstance(plan, str):
            return Refused(f"I can't roll back from here: {plan}")
        env = self.config.environments[plan.environment]
        result = await self.deploys.rollback(
            actor,
            env.name,
            plan.target,
            f"incident {incident.id}: {incident.title}",
            groups,
            f"incident:{incident.id}",
        )
        if isinstance(result, Started):
            await self.linked(actor, incident, result, plan)
        return result

    async def linked(
        self,
        actor: str,
        incident: Incident,
        started: Started,
        plan: RollbackPlan,
        *,
        automatic: bool = False,
    ) -> None:
        """Tie the rollback job to the incident: its end is posted in the incident thread."""
        # When the last deployment is still being watched it rolls itself back (signalled):
        # then its own id names the job whose end we wait for.
        rollback_id = started.deployment_id
        await self.incidents.update(incident.id, rollback_id=rollback_id)
        await self._audit(
            actor, "incident.rollback", incident, deployment=rollback_id, target=plan.target
        )
        who = (
            "Automatic rollback (a critical alert soon after a deployment):"
            if automatic
            else (f"{name(actor)} started a rollback of {plan.environment}:")
        )
        await self.notifier.note(
            incident.id,
            f"{who} "
            f"{plan.current or '?'} → {plan.target} (deployment {rollback_id}); "
            "its progress is on its card in the deploys channel.",
        )
        await self.notifier.link_job(incident.id, rollback_id)
        await self.notifier.changed(incident.id)

    async def deployment_finished(self, deployment_id: str) -> None:
        """A job ended: if an incident started it, record the mitigation and say so."""
        d = await self.store.deployments.get(deployment_id)
        if d is not None:
            self._live.pop(d.environment, None)  # what Azure serves may have just changed
        incident = await self.incidents.by_rollback(deployment_id)
        if incident is None or d is None or incident.mitigated_at is not None:
            return
        took = ((d.finished_at or self.clock()) - d.created_at).total_seconds()
        if d.state in ("succeeded", "rolled_back"):
            live = d.version if d.kind == "rollback" else d.from_version
            await self.incidents.update(incident.id, mitigated_at=d.finished_at or self.clock())
            await self._audit("deploybot", "incident.mitigated", incident, deployment=d.id)
            await self.notifier.note(incident.id, f"Traffic back on {live} after {took:.0f} s.")
        else:
            await self.notifier.note(
                incident.id, f"The rollback {d.id} ended {d.state} after {took:.0f} s."
            )
        await self.notifier.changed(incident.id)

    async def newer_deployment(self, incident: Incident) -> Deployment | None:
        assert incident.environment is not None
        for d in await self.store.deployments.latest(incident.environment, limit=10):
            if d.created_at <= incident.triggered_at:
                break
            ours = (incident.deployment_id, incident.rollback_id)
            if d.id not in ours and not d.is_dry_run and d.state not in NOT_REAL:
                return d
        return None

    async def _not_now(self, incident_id: str, what: str) -> Answer:
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return Answer("I don't know that incident.")
        return Answer(f"Incident {incident.id} is {incident.state}: nothing to {what}.")

    async def _audit(self, actor: str, action: str, incident: Incident, **details: object) -> None:
        await self.store.audit.append(
            actor,
            action,
            environment=incident.environment,
            details={"incident": incident.id, **details},
        )


def name(user: str) -> str:
    """A user in the incident log, without a mention: nobody is paged by the log."""
    return f"`{user}`"
