"""The desk answers the read-only and lock commands, auditing every decision it makes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from commands import policy
from commands.config.model import Config
from commands.platform.base import Platform
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
from commands.status_board import StatusBoard
from storage import Lock, LockHeld, Store

Clock = Callable[[], datetime]
FINISHED = "deployment.finished"


class Desk:
    def __init__(self, config: Config, store: Store, clock: Clock, platform: Platform) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.platform = platform
        # /deploy status under load must not turn into a storm of database and Azure reads.
        self.board = StatusBoard(config, store, platform, clock)
        store.audit.subscribe(self.board.observe)

    async def close(self) -> None:
        await self.board.close()

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
        """From the status board: no database or Azure read unless what it holds is out of
        date (see ``commands.status_board``)."""
        envs = [self.config.environments[name]] if name else list(self.config.environments.values())
        records, live = await asyncio.gather(
            self.board.records(), asyncio.gather(*(self.board.live(env) for env in envs))
        )
        now = self.clock()
        out = []
        for env, read in zip(envs, live, strict=True):
            state, error = read.state, read.error
            lock = records.locks.get(env.name)
            job = records.unfinished.get(env.name)
            freeze = policy.active_freeze(self.config, env.name, now)
            out.append(
                EnvironmentStatus(
                    name=env.name,
                    aliases=env.aliases,
                    topology=env.topology,
                    strategy=env.strategy,
                    live_version=state.live_version if state else records.last_live[env.name],
                    targets=tuple(
                        TargetLine(t.name, t.version, t.traffic_percent, t.monitor_status)
                        for t in (state.targets if state else ())
                    ),
                    live_error=error,
                    lock=_lock_info(lock) if lock else None,
                    job=f"{job.kind} {job.version} ({job.state})" if job else None,
                    approvals_required=env.approvals.required,
                    freeze=freeze.name if freeze else None,
                    live_read_at=read.read_at if state else None,
                )
            )
        return out

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
        if d is None or d.is_terminal:
            # Its replica stopped between finishing and releasing; the lease keeper frees it.
            ended = f"which {d.state.replace('_', ' ')}" if d is not None else "which is gone"
            return (
                f"{info.environment} is held by the lock of deployment {held}, {ended}; "
                "deploybot releases such a lock by itself once the job's lease runs out",
                "Ask again in a few seconds.",
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
