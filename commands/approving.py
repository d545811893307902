"""Approvals of a pending deployment: approve, reject (or withdraw) and expire."""

from __future__ import annotations

from commands import policy
from commands.deploy_audit import audit
from commands.deploy_results import Answer
from commands.jobs.base import BOT, JobTools, finish
from commands.jobs.notes import ApprovalNote, TextNote
from commands.queueing import in_line, ordinal
from commands.results import Refused
from commands.runner import Runner
from storage import Deployment


class Approvals:
    def __init__(self, tools: JobTools, runner: Runner) -> None:
        self.tools = tools
        self.runner = runner

    async def approve(
        self, actor: str, deployment_id: str, groups: policy.Groups
    ) -> Answer | Refused:
        found = await self._pending(actor, deployment_id)
        if not isinstance(found, Deployment):
            return found
        d = found
        config = self.tools.config
        env = config.environments[d.environment]
        previous = await self._decisions(d.id)
        decision = policy.may_approve(config, env, actor, d.requested_by, previous, groups)
        if not decision.allowed:
            await audit(
                self.tools, actor, "approval.refused", env.name, d.id, reason=decision.reason
            )
            return Refused(decision.reason, decision.ask)
        if not await self.tools.store.approvals.record(d.id, actor, "approve"):
            return Answer("You have already answered this request.")
        count = policy.approvals_count(await self._decisions(d.id))
        await audit(
            self.tools,
            actor,
            "approval.granted",
            env.name,
            d.id,
            count=count,
            required=d.approvals_required,
        )
        await self.tools.reporter.note(
            d.id, ApprovalNote(actor, "approve", None, count, d.approvals_required)
        )
        if count >= d.approvals_required:
            queued = await self.tools.store.deployments.transition(
                d.id, from_states=["pending_approval"], to_state="queued"
            )
            if queued is not None:
                await audit(
                    self.tools,
                    BOT,
                    "deployment.state",
                    env.name,
                    d.id,
                    previous="pending_approval",
                    state="queued",
                )
                await self.runner.next_in_line(env.name)
                place = await self.runner.line.place(d.id)
                if place is not None:
                    await self.tools.reporter.changed(d.id)
                    return Answer(
                        f"Approved ({count} of {d.approvals_required}). {env.name} is busy: "
                        f"it starts when its turn comes ({ordinal(place.position)} in line)."
                    )
        await self.tools.reporter.changed(d.id)
        return Answer(f"Approved ({count} of {d.approvals_required}).")

    async def may_reject(
        self, actor: str, deployment_id: str, groups: policy.Groups
    ) -> Deployment | Answer | Refused:
        found = await self._pending(actor, deployment_id)
        if not isinstance(found, Deployment):
            return found
        config = self.tools.config
        env = config.environments[found.environment]
        if actor == found.requested_by:
            return found  # withdrawing one's own request is always allowed
        decision = policy.may_approve(
            config, env, actor, found.requested_by, await self._decisions(found.id), groups
        )
        if not decision.allowed:
            await audit(
                self.tools, actor, "rejection.refused", env.name, found.id, reason=decision.reason
            )
            return Refused(decision.reason.replace("approve", "reject"), decision.ask)
        return found

    async def reject(
        self, actor: str, deployment_id: str, reason: str | None, groups: policy.Groups
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
        if in_line(d):
            await self.runner.line.redraw(d.environment)  # the ones behind it moved up
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
            if in_line(d):
                await self.runner.line.redraw(d.environment)

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
