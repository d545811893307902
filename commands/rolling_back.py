"""Rollbacks: pick the version to go back to, then signal the watch or create a rollback."""

from __future__ import annotations

from commands import policy
from commands.config.model import Environment
from commands.creating import Creation
from commands.deploy_audit import audit
from commands.deploy_results import Answer, Busy, ConfirmRollback, Started, started
from commands.job_leases import ROLLBACK
from commands.jobs.base import JobTools
from commands.platform.errors import PlatformError
from commands.requests import Rollback
from commands.results import Refused
from commands.runner import Runner
from storage import Deployment


class Rollbacks:
    def __init__(self, tools: JobTools, runner: Runner, creation: Creation) -> None:
        self.tools = tools
        self.runner = runner
        self.creation = creation

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
        self, actor: str, request: Rollback, groups: policy.Groups
    ) -> ConfirmRollback | Refused:
        config = self.tools.config
        env = config.environments[request.environment]
        decision = policy.may_operate(config, env, actor, groups)
        if not decision.allowed:
            await audit(self.tools, actor, "rollback.refused", env.name, reason=decision.reason)
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
        groups: policy.Groups,
        key: str | None,
    ) -> Started | Busy | Refused:
        env = self.tools.config.environments[environment]
        if (refused := await self._refused(actor, env, groups)) is not None:
            return refused
        lock = await self.tools.store.locks.get(env.name)
        if lock and lock.deployment_id:
            held = await self.tools.store.deployments.get(lock.deployment_id)
            if held is not None and await self._signal_watching(actor, held):
                return Started(held.id, env.name, str(held.from_version), 0, signalled=True)
        if key and (existing := await self.tools.store.deployments.get_by_idempotency_key(key)):
            return started(existing, existing_row=True)
        return await self.creation.create(
            actor, env, "rollback", version, "bluegreen", reason, key, required=0, flags={}
        )

    async def rollback_deployment(
        self, actor: str, d: Deployment, groups: policy.Groups
    ) -> Started | Busy | Refused | Answer:
        """The card's Roll back button, ``d`` as the click read it.

        While ``d`` is watched it holds its environment's lock, so the watch is told at once:
        no lookup of the lock and no second read stand between the click and the switch."""
        if d.from_version is None:
            return Answer("There is nothing to roll back to from this card.")
        if d.state == "watching":
            env = self.tools.config.environments[d.environment]
            if (refused := await self._refused(actor, env, groups)) is not None:
                return refused
            if await self._signal_watching(actor, d):
                return Started(d.id, env.name, d.from_version, 0, signalled=True)
        return await self.rollback(
            actor,
            d.environment,
            d.from_version,
            "Roll back button",
            groups,
            f"rollback:{d.id}:{actor}",
        )

    async def _refused(self, actor: str, env: Environment, groups: policy.Groups) -> Refused | None:
        decision = policy.may_operate(self.tools.config, env, actor, groups)
        if decision.allowed:
            return None
        await audit(self.tools, actor, "rollback.refused", env.name, reason=decision.reason)
        return Refused(decision.reason, decision.ask)

    async def _signal_watching(self, actor: str, d: Deployment) -> bool:
        """Tell ``d``, if it is watched (by this replica or another), to roll back now."""
        if d.state != "watching" or not await self.runner.reachable(d.id):
            return False
        # Queued ahead of any row the job writes; the signal does not wait for its commit (a
        # group commit behind every writer), and the click's answer does.
        requested = await self.tools.store.audit.queue(
            actor,
            "rollback.requested",
            environment=d.environment,
            deployment_id=d.id,
            details={"version": d.from_version},
        )
        try:
            await self.runner.signal(d.id, ROLLBACK, actor)
        finally:
            await requested
        return True
