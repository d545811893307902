"""Deploy requests, and the one facade the Slack edge calls for requests, approvals and
rollbacks (``commands.approving``, ``commands.rolling_back``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from commands import policy
from commands.approving import Approvals
from commands.cancelling import Cancellations
from commands.config.model import Config, Environment
from commands.creating import Creation, new_deployment_id
from commands.deploy_audit import audit
from commands.deploy_results import Answer, Busy, ConfirmRollback, Started, started
from commands.jobs.base import JobTools
from commands.jobs.canary_control import Action
from commands.plan import Plan, make_plan
from commands.request_checks import missing_promotions, promotion_refusal
from commands.requests import Cancel, Deploy, Rollback
from commands.results import Refused
from commands.rolling_back import Rollbacks
from commands.runner import Runner
from commands.steering import Steering
from storage import Deployment


class Deploys:
    def __init__(
        self, tools: JobTools, runner: Runner, new_id: Callable[[], str] = new_deployment_id
    ) -> None:
        self.tools = tools
        self.runner = runner
        self.approvals = Approvals(tools, runner)
        self.creation = Creation(tools, runner, self.approvals.expire, new_id)
        self.rollbacks = Rollbacks(tools, runner, self.creation)
        self.cancellations = Cancellations(tools, runner)
        self.steering = Steering(tools, runner)
        self._in_flight: dict[str, asyncio.Lock] = {}

    @property
    def config(self) -> Config:
        return self.tools.config

    # -- requests ----------------------------------------------------------------------------
    async def request(
        self, actor: str, request: Deploy, groups: policy.Groups, key: str | None
    ) -> Started | Busy | Refused | Plan:
        if key is None:
            return await self._request(actor, request, groups, None)
        # A Slack retry can arrive while the original is still being handled: let it wait for
        # the original, then find the deployment the original created.
        lock = self._in_flight.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                return await self._request(actor, request, groups, key)
        finally:
            if not lock.locked():
                self._in_flight.pop(key, None)

    async def _request(
        self, actor: str, request: Deploy, groups: policy.Groups, key: str | None
    ) -> Started | Busy | Refused | Plan:
        env = self.config.environments[request.environment]
        if key and (existing := await self.tools.store.deployments.get_by_idempotency_key(key)):
            return started(existing, existing_row=True)
        decision = policy.may_deploy(self.config, env, actor, groups)
        if not decision.allowed:
            await audit(self.tools, actor, "deploy.refused", env.name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        strategy = request.resolved_strategy(env.strategy)
        canary = strategy == "canary"
        stages = list(request.stages or (s.percent for s in env.canary.stages)) if canary else []
        freeze = policy.active_freeze(self.config, env.name, self.tools.clock())
        if freeze and not request.force:
            await audit(
                self.tools, actor, "deploy.refused", env.name, reason=f"freeze {freeze.name}"
            )
            why = f" ({freeze.reason})" if freeze.reason else ""
            return Refused(
                f"{env.name} is frozen by {freeze.name}{why}",
                hint=f"To override, add --force: it still needs {env.approvals.required} "
                "approval(s) and is audited as an override.",
            )
        if request.dry_run:
            kind = "canary" if canary else "deploy"
            plan = await make_plan(self.tools, env, request.version, kind, freeze, tuple(stages))
            await audit(
                self.tools, actor, "deploy.dry_run", env.name, version=request.version, ok=plan.ok
            )
            return plan
        missing = await missing_promotions(self.tools, env, request.version)
        if missing and not request.force:
            await audit(
                self.tools,
                actor,
                "deploy.refused",
                env.name,
                reason="promotion order",
                version=request.version,
                missing=missing,
            )
            return Refused(
                promotion_refusal(request.version, missing),
                hint=f"--force still needs {env.approvals.required} approval(s) and is audited "
                "as an override.",
            )
        flags: dict[str, Any] = {
            "force": request.force,
            "override": freeze.name if freeze else None,
        }
        if missing:
            flags["promotion_override"] = missing
        if canary:
            flags["stages"] = stages
        result = await self.creation.create(
            actor,
            env,
            "canary" if canary else "deploy",
            request.version,
            strategy,
            request.reason,
            key,
            required=env.approvals.required,
            flags=flags,
            queue=request.queue,
        )
        if isinstance(result, Busy):
            return replace(result, offer=request, offer_key=key)  # the answer offers Queue it
        return result

    # -- approvals ---------------------------------------------------------------------------
    async def approve(
        self, actor: str, deployment_id: str, groups: policy.Groups
    ) -> Answer | Refused:
        return await self.approvals.approve(actor, deployment_id, groups)

    async def may_reject(
        self, actor: str, deployment_id: str, groups: policy.Groups
    ) -> Deployment | Answer | Refused:
        return await self.approvals.may_reject(actor, deployment_id, groups)

    async def reject(
        self, actor: str, deployment_id: str, reason: str | None, groups: policy.Groups
    ) -> Answer | Refused:
        return await self.approvals.reject(actor, deployment_id, reason, groups)

    async def expire(self, deployment_id: str) -> None:
        await self.approvals.expire(deployment_id)

    async def freed(self, environment: str) -> None:
        """A manual lock was released: the next approved request in line may start."""
        await self.runner.next_in_line(environment)

    async def cancel(self, actor: str, request: Cancel, groups: policy.Groups) -> Answer | Refused:
        return await self.cancellations.cancel(actor, request, groups)

    async def steer(
        self, actor: str, deployment_id: str, action: Action, groups: policy.Groups
    ) -> Answer | Refused:
        """A click on a running canary's Pause, Resume, Promote or Abort."""
        return await self.steering.steer(actor, deployment_id, action, groups)

    # -- rollbacks ---------------------------------------------------------------------------
    async def rollback_target(
        self, env: Environment, version: str | None
    ) -> tuple[str | None, str | None]:
        """(version to go back to, version live now): default is the last good one before it."""
        return await self.rollbacks.rollback_target(env, version)

    async def confirm_rollback(
        self, actor: str, request: Rollback, groups: policy.Groups
    ) -> ConfirmRollback | Refused:
        return await self.rollbacks.confirm_rollback(actor, request, groups)

    async def rollback(
        self,
        actor: str,
        environment: str,
        version: str,
        reason: str | None,
        groups: policy.Groups,
        key: str | None,
    ) -> Started | Busy | Refused:
        return await self.rollbacks.rollback(actor, environment, version, reason, groups, key)

    async def rollback_deployment(
        self, actor: str, deployment: Deployment, groups: policy.Groups
    ) -> Started | Busy | Refused | Answer:
        """The card's Roll back button, on the deployment as the click read it."""
        return await self.rollbacks.rollback_deployment(actor, deployment, groups)


__all__ = ["Deploys"]
