"""Requests, approvals and rollbacks: who may start what, and when it starts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from commands import policy
from commands.config.model import Environment
from commands.jobs.base import BOT, JobTools, finish
from commands.jobs.bluegreen import plan_steps
from commands.jobs.notes import ApprovalNote, TextNote
from commands.jobs.watch import rollback_signal
from commands.plan import Plan, make_plan
from commands.platform.errors import PlatformError
from commands.requests import Deploy, Rollback
from commands.results import LockInfo, Refused
from commands.runner import Runner
from storage import Deployment, DeploymentKind, LockHeld

Groups = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Started:
    deployment_id: str
    environment: str
    version: str
    approvals_required: int
    existing: bool = False
    signalled: bool = False


@dataclass(frozen=True)
class Busy:
    lock: LockInfo


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


def new_deployment_id() -> str:
    return "d-" + uuid.uuid4().hex[:10]


class Deploys:
    def __init__(
        self, tools: JobTools, runner: Runner, new_id: Callable[[], str] = new_deployment_id
    ) -> None:
        self.tools = tools
        self.runner = runner
        self.new_id = new_id

    @property
    def config(self) -> Any:
        return self.tools.config

    async def _audit(
        self, actor: str, action: str, env: str, deployment_id: str | None = None, **details: Any
    ) -> None:
        await self.tools.store.audit.append(
            actor, action, environment=env, deployment_id=deployment_id, details=details
        )

    # -- requests ----------------------------------------------------------------------------
    async def request(
        self, actor: str, request: Deploy, groups: Groups, key: str | None
    ) -> Started | Busy | Refused | Plan:
        env = self.config.environments[request.environment]
        if key and (existing := await self.tools.store.deployments.get_by_idempotency_key(key)):
            return self._started(existing, existing_row=True)
        decision = policy.may_deploy(self.config, env, actor, groups)
        if not decision.allowed:
            await self._audit(actor, "deploy.refused", env.name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        strategy = request.resolved_strategy(env.strategy)
        if strategy == "canary":
            await self._audit(actor, "deploy.refused", env.name, reason="canary not available")
            return Refused(
                "canary jobs are not available in this version of deploybot yet",
                hint=f"Use /deploy {env.name} {request.version} bluegreen meanwhile.",
            )
        freeze = policy.active_freeze(self.config, env.name, self.tools.clock())
        if freeze and not request.force:
            await self._audit(actor, "deploy.refused", env.name, reason=f"freeze {freeze.name}")
            why = f" ({freeze.reason})" if freeze.reason else ""
            return Refused(
                f"{env.name} is frozen by {freeze.name}{why}",
                hint=f"To override, add --force: it still needs {env.approvals.required} "
                "approval(s) and is audited as an override.",
            )
        if request.dry_run:
            plan = await make_plan(self.tools, env, request.version, "deploy", freeze)
            await self._audit(
                actor, "deploy.dry_run", env.name, version=request.version, ok=plan.ok
            )
            return plan
        return await self._create(
            actor,
            env,
            "deploy",
            request.version,
            strategy,
            request.reason,
            key,
            required=env.approvals.required,
            flags={"force": request.force, "override": freeze.name if freeze else None},
        )

    async def _create(
        self,
        actor: str,
        env: Environment,
        kind: DeploymentKind,
        version: str,
        strategy: str,
        reason: str | None,
        key: str | None,
        *,
        required: int,
        flags: dict[str, Any],
    ) -> Started | Busy | Refused:
        store = self.tools.store
        deployment_id = self.new_id()
        lock = await store.locks.acquire(
            env.name, actor, kind="job", deployment_id=deployment_id, reason=f"{kind} {version}"
        )
        if isinstance(lock, LockHeld):
            await self._audit(
                actor, f"{kind}.refused", env.name, reason="locked", holder=lock.holder
            )
            held = lock.current
            return Busy(
                LockInfo(
                    env.name,
                    held.holder,
                    held.kind,
                    held.reason,
                    held.acquired_at,
                    held.deployment_id,
                )
            )
        try:
            state = await self.tools.platform.read_state(env)
        except PlatformError as error:
            await store.locks.release(env.name, deployment_id=deployment_id)
            await self._audit(actor, f"{kind}.refused", env.name, reason=str(error))
            return Refused(f"I could not read {env.name} from Azure: {error}")
        live = state.live_version
        # A rollback chooses its target in the pre-checks (it may switch back to what is there).
        context = (
            {"target": state.idle, "live": state.live, "previous_version": live, "method": "deploy"}
            if kind == "deploy" and state.idle
            else {}
        )
        now = self.tools.clock()
        deployment, created = await store.deployments.create_once(
            id=deployment_id,
            kind=kind,
            environment=env.name,
            version=version,
            strategy=strategy,
            requested_by=actor,
            from_version=live,
            reason=reason,
            state="pending_approval" if required else "queued",
            steps=plan_steps(kind, env.hooks),
            flags=flags,
            approvals_required=required,
            context=context,
            idempotency_key=key,
            expires_at=policy.expires_at(env, now) if required else None,
        )
        if not created:
            await store.locks.release(env.name, deployment_id=deployment_id)
            return self._started(deployment, existing_row=True)
        if flags.get("override"):
            await self._audit(
                actor, "freeze.override", env.name, deployment_id, freeze=flags["override"]
            )
        await self._audit(
            actor,
            f"{kind}.requested",
            env.name,
            deployment_id,
            version=version,
            from_version=live,
            strategy=strategy,
            reason=reason,
            approvals_required=required,
        )
        await self.tools.reporter.changed(deployment_id)
        if required:
            delay = (policy.expires_at(env, now) - now).total_seconds()
            self.runner.at(deployment_id, delay, lambda: self.expire(deployment_id))
        else:
            self.runner.start(deployment)
        return self._started(deployment)

    def _started(self, d: Deployment, *, existing_row: bool = False) -> Started:
        return Started(d.id, d.environment, d.version, d.approvals_required, existing=existing_row)

    # -- approvals ---------------------------------------------------------------------------
    async def approve(self, actor: str, deployment_id: str, groups: Groups) -> Answer | Refused:
        found = await self._pending(actor, deployment_id)
        if not isinstance(found, Deployment):
            return found
        d = found
        env = self.config.environments[d.environment]
        previous = await self._decisions(d.id)
        decision = policy.may_approve(self.config, env, actor, d.requested_by, previous, groups)
        if not decision.allowed:
            await self._audit(actor, "approval.refused", env.name, d.id, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        if not await self.tools.store.approvals.record(d.id, actor, "approve"):
            return Answer("You have already answered this request.")
        count = policy.approvals_count(await self._decisions(d.id))
        await self._audit(
            actor, "approval.granted", env.name, d.id, count=count, required=d.approvals_required
        )
        await self.tools.reporter.note(
            d.id, ApprovalNote(actor, "approve", None, count, d.approvals_required)
        )
        if count >= d.approvals_required:
            queued = await self.tools.store.deployments.transition(
                d.id, from_states=["pending_approval"], to_state="queued"
            )
            if queued is not None:
                await self._audit(
                    BOT,
                    "deployment.state",
                    env.name,
                    d.id,
                    previous="pending_approval",
                    state="queued",
                )
                self.runner.start(queued)
        await self.tools.reporter.changed(d.id)
        return Answer(f"Approved ({count} of {d.approvals_required}).")

    async def may_reject(
        self, actor: str, deployment_id: str, groups: Groups
    ) -> Deployment | Answer | Refused:
        found = await self._pending(actor, deployment_id)
        if not isinstance(found, Deployment):
            return found
        env = self.config.environments[found.environment]
        if actor == found.requested_by:
            return found  # withdrawing one's own request is always allowed
        decision = policy.may_approve(
            self.config, env, actor, found.requested_by, await self._decisions(found.id), groups
        )
        if not decision.allowed:
            await self._audit(
                actor, "rejection.refused", env.name, found.id, reason=decision.reason
            )
            return Refused(decision.reason.replace("approve", "reject"), decision.ask)
        return found

    async def reject(
        self, actor: str, deployment_id: str, reason: str | None, groups: Groups
    ) -> Answer | Refused:
        found = await self.may_reject(actor, deployment_id, groups)
        if not isinstance(found, Deployment):
            return found
        d = found
        await self.tools.store.approvals.record(d.id, actor, "reject", reason)
        rejected = await self.tools.store.deployments.transition(
            d.id, from_states=["pending_approval"], to_state="rejected"
        )
        if rejected is None:
            return Answer("This request was already decided.")
        self.runner.cancel_timer(d.id)
        await self.tools.reporter.note(
            d.id, ApprovalNote(actor, "reject", reason, 0, d.approvals_required)
        )
        await finish(self.tools, rejected, "rejected", live_version=d.from_version, actor=actor)
        return Answer("Rejected.")

    async def expire(self, deployment_id: str) -> None:
        d = await self.tools.store.deployments.get(deployment_id)
        if d is None or d.state != "pending_approval":
            return
        expired = await self.tools.store.deployments.transition(
            d.id, from_states=["pending_approval"], to_state="expired"
        )
        if expired is not None:
            await self.tools.reporter.note(
                d.id, TextNote("The request expired before it was approved.")
            )
            await finish(self.tools, expired, "expired", live_version=d.from_version)

    async def _pending(self, actor: str, deployment_id: str) -> Deployment | Answer:
        d = await self.tools.store.deployments.get(deployment_id)
        if d is None:
            return Answer("I don't know that deployment.")
        if d.state == "pending_approval" and d.expires_at and self.tools.clock() >= d.expires_at:
            await self.expire(d.id)
            return Answer("This request has expired; ask for it again.")
        if d.state != "pending_approval":
            return Answer(f"This request is {d.state.replace('_', ' ')}; nothing to decide.")
        return d

    async def _decisions(self, deployment_id: str) -> list[policy.Approval]:
        rows = await self.tools.store.approvals.for_deployment(deployment_id)
        return [policy.Approval(r.approver, r.decision, r.at) for r in rows]

    # -- rollbacks ---------------------------------------------------------------------------
    async def rollback_target(
        self, env: Environment, version: str | None
    ) -> tuple[str | None, str | None]:
        """(version to go back to, version live now): default is the last good one before it."""
        state = await self.tools.platform.read_state(env)
        live = state.live_version
        if version:
            return version, live
        last = await self.tools.store.deployments.last_successful(env.name, other_than_version=live)
        if last is not None:
            return last.version, live
        idle = state.idle
        return (state.target(idle).version if idle else None), live

    async def confirm_rollback(
        self, actor: str, request: Rollback, groups: Groups
    ) -> ConfirmRollback | Refused:
        env = self.config.environments[request.environment]
        decision = policy.may_operate(self.config, env, actor, groups)
        if not decision.allowed:
            await self._audit(actor, "rollback.refused", env.name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        try:
            version, live = await self.rollback_target(env, request.version)
        except PlatformError as error:
            return Refused(f"I could not read {env.name} from Azure: {error}")
        if version is None:
            return Refused(f"I found no earlier version of {env.name} to roll back to")
        if version == live:
            return Refused(f"{env.name} already runs {version}")
        return ConfirmRollback(env.name, version, live, request.reason)

    async def rollback(
        self,
        actor: str,
        environment: str,
        version: str,
        reason: str | None,
        groups: Groups,
        key: str | None,
    ) -> Started | Busy | Refused:
        env = self.config.environments[environment]
        decision = policy.may_operate(self.config, env, actor, groups)
        if not decision.allowed:
            await self._audit(actor, "rollback.refused", env.name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        lock = await self.tools.store.locks.get(env.name)
        if lock and lock.deployment_id and await self._signal_watching(actor, lock.deployment_id):
            d = await self.tools.store.deployments.get(lock.deployment_id)
            assert d is not None
            return Started(d.id, env.name, str(d.from_version), 0, signalled=True)
        if key and (existing := await self.tools.store.deployments.get_by_idempotency_key(key)):
            return self._started(existing, existing_row=True)
        return await self._create(
            actor, env, "rollback", version, "bluegreen", reason, key, required=0, flags={}
        )

    async def rollback_deployment(
        self, actor: str, deployment_id: str, groups: Groups
    ) -> Started | Busy | Refused | Answer:
        """The card's Roll back button."""
        d = await self.tools.store.deployments.get(deployment_id)
        if d is None or d.from_version is None:
            return Answer("There is nothing to roll back to from this card.")
        return await self.rollback(
            actor,
            d.environment,
            d.from_version,
            "Roll back button",
            groups,
            f"rollback:{d.id}:{actor}",
        )

    async def _signal_watching(self, actor: str, deployment_id: str) -> bool:
        """Tell a deployment being watched in this process to roll back now."""
        d = await self.tools.store.deployments.get(deployment_id)
        if d is None or d.state != "watching" or not self.runner.running(d.id):
            return False
        await self._audit(actor, "rollback.requested", d.environment, d.id, version=d.from_version)
        self.tools.rollback_requested_by[d.id] = actor
        rollback_signal(self.tools, d.id).set()
        return True


__all__ = ["Answer", "Busy", "ConfirmRollback", "Deploys", "Started"]
