"""Creating a deployment: take the lock, read what is live, store the row, then start it or
wait for its approvals."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from commands import policy
from commands.config.model import Environment
from commands.deploy_audit import audit
from commands.deploy_results import Busy, Started, started
from commands.jobs.base import JobTools
from commands.jobs.bluegreen import plan_steps
from commands.platform.errors import PlatformError
from commands.results import LockInfo, Refused
from commands.runner import Runner
from storage import DeploymentKind, LockHeld


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
    ) -> Started | Busy | Refused:
        store = self.tools.store
        deployment_id = self.new_id()
        lock = await store.locks.acquire(
            env.name, actor, kind="job", deployment_id=deployment_id, reason=f"{kind} {version}"
        )
        if isinstance(lock, LockHeld):
            await audit(
                self.tools, actor, f"{kind}.refused", env.name, reason="locked", holder=lock.holder
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
            await audit(self.tools, actor, f"{kind}.refused", env.name, reason=str(error))
            return Refused(f"I could not read {env.name} from Azure: {error}")
        live = state.live_version
        # A rollback chooses its target in the pre-checks (it may switch back to what is there).
        context = (
            {"target": state.idle, "live": state.live, "previous_version": live, "method": "deploy"}
            if kind in ("deploy", "canary") and state.idle
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
            return started(deployment, existing_row=True)
        if flags.get("override"):
            await audit(
                self.tools,
                actor,
                "freeze.override",
                env.name,
                deployment_id,
                freeze=flags["override"],
            )
        await audit(
            self.tools,
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
        return started(deployment)
