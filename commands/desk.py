"""The desk answers the read-only and lock commands, auditing every decision it makes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from commands import policy
from commands.config.model import Config, Environment
from commands.platform.base import EnvironmentState, Platform
from commands.platform.errors import PlatformError
from commands.results import (
    AlreadyLocked,
    EnvironmentStatus,
    History,
    HistoryEntry,
    Locked,
    LockInfo,
    NotLocked,
    Refused,
    TargetLine,
    Unlocked,
)
from storage import Lock, LockHeld, Store

Clock = Callable[[], datetime]
FINISHED = "deployment.finished"
LIVE_STATE_TTL = timedelta(seconds=5)


class Desk:
    def __init__(self, config: Config, store: Store, clock: Clock, platform: Platform) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.platform = platform
        # /deploy status under load must not turn into a storm of Azure reads.
        self._live_cache: dict[str, tuple[datetime, EnvironmentState]] = {}

    async def record(
        self,
        actor: str,
        action: str,
        *,
        environment: str | None = None,
        deployment_id: str | None = None,
        **details: Any,
    ) -> None:
        await self.store.audit.append(
            actor, action, environment=environment, deployment_id=deployment_id, details=details
        )

    async def status(self, name: str | None) -> list[EnvironmentStatus]:
        envs = [self.config.environments[name]] if name else list(self.config.environments.values())
        locks = {lock.environment: lock for lock in await self.store.locks.all()}
        unfinished = {d.environment: d for d in await self.store.deployments.unfinished()}
        now = self.clock()
        live = await asyncio.gather(*(self._live(env) for env in envs))
        out = []
        for env, (state, error) in zip(envs, live, strict=True):
            lock = locks.get(env.name)
            job = unfinished.get(env.name)
            freeze = policy.active_freeze(self.config, env.name, now)
            out.append(
                EnvironmentStatus(
                    name=env.name,
                    aliases=env.aliases,
                    topology=env.topology,
                    strategy=env.strategy,
                    live_version=state.live_version
                    if state
                    else await self._last_live_version(env),
                    targets=tuple(
                        TargetLine(t.name, t.version, t.traffic_percent, t.monitor_status)
                        for t in (state.targets if state else ())
                    ),
                    live_error=error,
                    lock=_lock_info(lock) if lock else None,
                    job=f"{job.kind} {job.version} ({job.state})" if job else None,
                    approvals_required=env.approvals.required,
                    freeze=freeze.name if freeze else None,
                )
            )
        return out

    async def _live(self, env: Environment) -> tuple[EnvironmentState | None, str | None]:
        now = self.clock()
        cached = self._live_cache.get(env.name)
        if cached and now - cached[0] < LIVE_STATE_TTL:
            return cached[1], None
        try:
            state = await self.platform.read_state(env)
        except PlatformError as error:
            return None, str(error)
        self._live_cache[env.name] = (now, state)
        return state, None

    async def _last_live_version(self, env: Environment) -> str | None:
        events = await self.store.audit.query(environment=env.name, actions=[FINISHED], limit=20)
        for event in events:
            if event.details.get("outcome") in ("succeeded", "rolled_back"):
                live = event.details.get("live_version")
                return str(live) if live else None
        return None

    async def history(self, name: str | None, limit: int) -> History:
        events = await self.store.audit.query(environment=name, actions=[FINISHED], limit=limit)
        entries = tuple(
            HistoryEntry(
                at=event.at,
                environment=event.environment or "?",
                deployment_id=event.deployment_id,
                requested_by=str(event.details.get("requested_by", event.actor)),
                kind=str(event.details.get("kind", "deploy")),
                from_version=_text(event.details.get("from_version")),
                to_version=_text(event.details.get("to_version")),
                strategy=_text(event.details.get("strategy")),
                outcome=str(event.details.get("outcome", "?")),
                duration_s=_number(event.details.get("duration_s")),
            )
            for event in events
        )
        return History(name, entries)

    async def lock(
        self,
        actor: str,
        name: str,
        reason: str | None,
        groups: Mapping[str, frozenset[str]],
    ) -> Locked | AlreadyLocked | Refused:
        env = self.config.environments[name]
        decision = policy.may_operate(self.config, env, actor, groups)
        if not decision.allowed:
            await self.record(actor, "lock.refused", environment=name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        result = await self.store.locks.acquire(name, actor, kind="manual", reason=reason)
        if isinstance(result, LockHeld):
            info = _lock_info(result.current)
            await self.record(
                actor, "lock.refused", environment=name, reason="already locked", holder=info.holder
            )
            return AlreadyLocked(info)
        info = _lock_info(result)
        await self.record(actor, "lock.acquired", environment=name, reason=reason)
        return Locked(info)

    async def unlock(
        self, actor: str, name: str, groups: Mapping[str, frozenset[str]]
    ) -> Unlocked | NotLocked | Refused:
        env = self.config.environments[name]
        decision = policy.may_operate(self.config, env, actor, groups)
        if not decision.allowed:
            await self.record(actor, "unlock.refused", environment=name, reason=decision.reason)
            return Refused(decision.reason, decision.ask)
        current = await self.store.locks.get(name)
        if current is None:
            return NotLocked(name)
        info = _lock_info(current)
        if info.kind != "manual":
            reason, hint = await self._held_by_job(info)
            await self.record(actor, "unlock.refused", environment=name, reason=reason)
            return Refused(reason, hint=hint)
        await self.store.locks.release(name, kind="manual")
        await self.record(actor, "lock.released", environment=name, holder=info.holder)
        return Unlocked(name, info)

    async def _held_by_job(self, info: LockInfo) -> tuple[str, str]:
        held = info.deployment_id
        d = await self.store.deployments.get(held) if held else None
        if d is not None and d.state == "pending_approval":
            return (
                f"{info.environment} is held by request {held}, waiting for approval",
                f"Withdraw it with /deploy cancel {held}.",
            )
        return (
            f"{info.environment} is held by a running job ({held}); it frees the lock when done",
            f"To undo what it changed, use /rollback {info.environment}.",
        )


def _lock_info(lock: Lock) -> LockInfo:
    return LockInfo(
        environment=lock.environment,
        holder=lock.holder,
        kind=lock.kind,
        reason=lock.reason,
        since=lock.acquired_at,
        deployment_id=lock.deployment_id,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
