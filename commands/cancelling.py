"""Withdrawing a request before it starts: `/deploy cancel <env|id>`, for a request waiting
for approval or waiting in its environment's line."""

from __future__ import annotations

from commands import policy
from commands.deploy_audit import audit
from commands.deploy_results import Answer
from commands.jobs.base import JobTools, finish
from commands.jobs.notes import TextNote
from commands.requests import Cancel
from commands.results import Refused
from commands.runner import Runner
from storage import Deployment

WITHDRAWABLE = ("pending_approval", "queued")


class Cancellations:
    def __init__(self, tools: JobTools, runner: Runner) -> None:
        self.tools = tools
        self.runner = runner

    async def cancel(self, actor: str, request: Cancel, groups: policy.Groups) -> Answer | Refused:
        """The requester or an approver withdraws a request that no job has started."""
        found = await self._find(actor, request)
        if isinstance(found, Refused):
            return found
        d = found
        env = self.tools.config.environments[d.environment]
        approvers = policy.approvers(self.tools.config, env, groups)
        if actor != d.requested_by and actor not in approvers:
            await audit(self.tools, actor, "cancel.refused", env.name, d.id, reason="not allowed")
            return Refused(
                "you can't cancel this request: only its requester or an approver can",
                tuple(sorted({d.requested_by, *approvers})),
            )
        if d.state not in WITHDRAWABLE:
            return Refused(
                f"{d.id} is {d.state.replace('_', ' ')}: only a request waiting for approval "
                "or in line can be cancelled",
                hint=f"To undo a deployment that ran, use /rollback {env.name}.",
            )
        cancelled = await self.tools.store.deployments.transition(
            d.id, from_states=WITHDRAWABLE, to_state="cancelled"
        )
        if cancelled is None:
            return Answer("This request was decided a moment ago; nothing to cancel.")
        self.runner.cancel_timer(d.id)
        await audit(
            self.tools,
            actor,
            "deploy.cancelled",
            env.name,
            d.id,
            version=d.version,
            previous=d.state,
            requested_by=d.requested_by,
        )
        await self.tools.reporter.note(d.id, TextNote(f"Cancelled by <@{actor}>."))
        await finish(
            self.tools,
            cancelled,
            "cancelled",
            live_version=d.from_version,
            error=f"cancelled by {actor}",
            actor=actor,
        )
        await self.runner.line.redraw(env.name)  # the ones behind it moved up
        await self.runner.next_in_line(env.name)
        return Answer(f"Cancelled the request to deploy `{d.version}` to *{env.name}* ({d.id}).")

    async def _find(self, actor: str, request: Cancel) -> Deployment | Refused:
        store = self.tools.store.deployments
        if request.deployment_id is not None:
            d = await store.get(request.deployment_id)
            if d is None or d.environment not in self.tools.config.environments:
                return Refused(f"there is no deployment {request.deployment_id}")
            return d
        assert request.environment is not None
        waiting = await store.latest(request.environment, states=WITHDRAWABLE, limit=50)
        if not waiting:
            return Refused(
                f"nothing is waiting for approval or in line on {request.environment}",
                hint="See /deploy status for what runs there.",
            )
        own = [d for d in waiting if d.requested_by == actor]
        if own:
            return own[0]  # the newest of the actor's own requests
        if len(waiting) > 1:
            ids = ", ".join(d.id for d in waiting)
            return Refused(
                f"{len(waiting)} requests wait on {request.environment} ({ids})",
                hint="Say which one: /deploy cancel <id>.",
            )
        return waiting[0]
