"""Creating a deployment: read what is live, check it can run, store the row, then start it
(or put it in line) or wait for its approvals."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from commands import policy
from commands.config.model import Environment
from commands.deploy_audit import audit
from commands.deploy_results import Busy, Started, started
from commands.jobs.base import JobTools
from commands.jobs.bluegreen import plan_steps
from commands.platform.errors import PlatformError
from commands.queueing import IN_LINE, start_context
from commands.request_checks import cannot_run
from commands.results import LockInfo, Refused
from commands.runner import Runner
from storage import DeploymentKind, Lock, LockHeld
from storage.timeutil import iso_utc

# A second request for the same version while one of these is on its way is that request.
ON_ITS_WAY = ("pending_approval", "queued", "running", "paused", "watching")


def new_deployment_id() -> str:
    return "d-" + uuid.uuid4().hex[:10]


class Creation:
    def __init__(
        self,
        tools: JobTools,
        runner: Runner,
        expire: Callable[[str], Awaitable[None]],
        new_id: Callable[[], str] = new_deployment_id,
    ) -> None:
        self.tools = tools
        self.runner = runner
        self.expire = expire
        self.new_id = new_id

    async def create(
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
        queue: bool = False,
    ) -> Started | Busy | Refused:
        """Store the request; it takes the environment's lock only when its job starts. A busy
        environment answers ``Busy`` unless ``queue``: then the request joins its line."""
        store = self.tools.store
        held = await store.locks.get(env.name)
        refuse_busy = held is not None and not queue
        if refuse_busy and kind == "rollback":
            return await self._busy(actor, env, kind, held)
        try:
            state = await self.tools.platform.read_state(env)
        except PlatformError as error:
            await audit(self.tools, actor, f"{kind}.refused", env.name, reason=str(error))
            return Refused(f"I could not read {env.name} from Azure: {error}")
        if kind in ("deploy", "canary"):
            # Before the busy answer, so nobody queues (or approves) what could not run.
            why = await cannot_run(self.tools, env, version, state, busy=held is not None)
            if why is not None:
                await audit(
                    self.tools, actor, f"{kind}.refused", env.name, reason=why, version=version
                )
                return Refused(
                    f"{version} cannot go to {env.name} now: {why}",
                    hint="Nothing was requested; ask again when that is fixed.",
                )
        if refuse_busy:
            return await self._busy(actor, env, kind, held)
        new_id = self.new_id()
        # It starts at once, so it takes the lock now: of requests made at the same moment (on
        # any replica) one starts and the others hear that the environment is busy, rather
        # than all passing the check above and lining up behind the first.
        starts_now = not required and not queue
        if starts_now:
            lock = await store.locks.acquire(
                env.name, actor, kind="job", deployment_id=new_id, reason=f"{kind} {version}"
            )
            if isinstance(lock, LockHeld):
                retried = await store.deployments.get_by_idempotency_key(key) if key else None
                if retried is not None:  # a Slack retry reached another replica meanwhile
                    return started(retried, existing_row=True)
                return await self._busy(actor, env, kind, lock.current)
        now = self.tools.clock()
        if queue:
            flags = {**flags, IN_LINE: iso_utc(now)}
        try:
            deployment, created = await store.deployments.create_once(
                id=new_id,
                kind=kind,
                environment=env.name,
                version=version,
                strategy=strategy,
                requested_by=actor,
                from_version=state.live_version,
                reason=reason,
                state="pending_approval" if required else "queued",
                steps=plan_steps(kind, env.hooks),
                flags=flags,
                approvals_required=required,
                context=start_context(kind, state),
                idempotency_key=key,
                expires_at=policy.expires_at(env, now) if required else None,
                unless_in=ON_ITS_WAY if kind in ("deploy", "canary") else (),
            )
        except BaseException:
            if starts_now:
                await store.locks.release(env.name, deployment_id=new_id)
            raise
        if not created and starts_now:  # the one found holds what it holds
            await store.locks.release(env.name, deployment_id=new_id)
        if not created and deployment.idempotency_key != key:
            await audit(
                self.tools,
                actor,
                f"{kind}.refused",
                env.name,
                reason="already on its way",
                version=version,
                deployment=deployment.id,
            )
            return replace(started(deployment, existing_row=True), already=deployment.state)
        if not created:  # asked for before (a Slack retry)
            return started(deployment, existing_row=True)
        d = deployment
        if flags.get("override"):
            await audit(
                self.tools, actor, "freeze.override", env.name, d.id, freeze=flags["override"]
            )
        if flags.get("promotion_override"):
            await audit(
                self.tools,
                actor,
                "promotion.override",
                env.name,
                d.id,
                version=version,
                missing=flags["promotion_override"],
            )
        await audit(
            self.tools,
            actor,
            f"{kind}.requested",
            env.name,
            d.id,
            version=version,
            from_version=state.live_version,
            strategy=strategy,
            reason=reason,
            approvals_required=required,
            queued=queue,
        )
        if queue:
            await self.runner.line.redraw(env.name)  # every card in the line shows one more
        else:
            await self.tools.reporter.changed(d.id)
        if required:
            delay = (policy.expires_at(env, now) - now).total_seconds()
            self.runner.at(d.id, delay, lambda: self.expire(d.id))
        else:
            await self.runner.next_in_line(env.name)
        place = await self.runner.line.place(d.id)
        return replace(started(d), place=place.position if place else None)

    async def _busy(
        self, actor: str, env: Environment, kind: DeploymentKind, held: Lock | None
    ) -> Busy:
        assert held is not None
        await audit(
            self.tools, actor, f"{kind}.refused", env.name, reason="locked", holder=held.holder
        )
        return Busy(
            LockInfo(
                env.name, held.holder, held.kind, held.reason, held.acquired_at, held.deployment_id
            )
        )
