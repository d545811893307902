"""The runner's background duty on a shared database: renew, take signals, take over.

Every ``signal_poll_s`` it takes the signals other replicas left for this runner's jobs;
every ``renew_every_s`` it renews this runner's leases (a job whose lease another replica
took meanwhile is stopped here at once, as a crash would stop it) and, when taking over,
looks for jobs no replica holds: a lease expired, or none at all on a job left queued
longer than a lease, and requests whose approval window closed while their replica was
gone. Those are carried on through ``Runner.resume``, the recovery a restart runs. An
approved request waiting in line is started when its environment's lock is free: the
replica that freed it may have died before starting the next.

A job's lock that no job will release is dealt with too, once it is older than a lease: one
held by an approved request whose start never came (its replica took the lock and died) is
given to that request's start; one held by a job that finished (its replica died, or lost the
database, between finishing and releasing) is released, audited, and the line moves on.
Without that the environment would stay busy for good: `/deploy unlock` frees only manual
locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from commands.job_leases import deliver
from commands.jobs.base import BOT
from commands.recovery import resume

if TYPE_CHECKING:
    from commands.runner import Runner

log = logging.getLogger(__name__)
Expire = Callable[[str], Awaitable[None]]


async def keep_leases(runner: Runner, expire: Expire | None, stopping: asyncio.Event) -> None:
    """Until ``stopping`` is set; a round already under way finishes first (a query cancelled
    midway takes its connection's reset with it, and SQLAlchemy logs that as an error)."""
    loop = asyncio.get_running_loop()
    next_renewal = loop.time()
    while not stopping.is_set():
        try:
            if loop.time() >= next_renewal:
                next_renewal = loop.time() + runner.timing.renew_every_s
                await renew(runner)
                if expire is not None:
                    await take_over(runner, expire)
            await take_signals(runner)
        except asyncio.CancelledError:
            raise
        except Exception:  # the database was away: the next round tries again
            log.warning("keeping job leases failed; trying again", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), runner.timing.signal_poll_s)


async def renew(runner: Runner) -> None:
    held = runner.held_leases()
    renewed = await runner.tools.store.leases.renew(runner.replica, held, runner.timing.ttl)
    for lost in held - renewed:
        if lost in runner.held_leases():  # not released meanwhile: someone else has it now
            log.warning("lost the lease of job %s to another replica; stopping it here", lost)
            runner.lose(lost)


async def take_signals(runner: Runner) -> None:
    held = runner.held_leases()
    if not held:
        return
    for signal in await runner.tools.store.signals.take(held, runner.replica):
        try:
            deliver(runner.tools, signal.deployment_id, signal.action, signal.actor)
        except ValueError:
            log.warning("ignoring job signal %s: %r", signal.id, signal.action)


async def take_over(runner: Runner, expire: Expire) -> None:
    store, now = runner.tools.store, runner.tools.clock()
    unfinished = [d for d in await store.deployments.unfinished() if not runner.holds(d.id)]
    leases = await store.leases.of([d.id for d in unfinished])
    lines: set[str] = set()
    for d in unfinished:
        if d.state == "queued":
            lines.add(d.environment)
            continue
        if d.state == "pending_approval":
            due = d.expires_at is not None and d.expires_at <= now
            if due and not runner.times(d.id):
                await expire(d.id)  # a transition: one replica wins, the others find it done
            continue
        lease = leases.get(d.id)
        if lease is None:
            # Just created or approved: its replica is claiming it right now.
            if now - d.updated_at < runner.timing.ttl:
                continue
        elif lease.live(now):
            continue
        if await resume(runner, d):
            log.warning("took over job %s (%s)", d.id, lease.holder if lease else "no lease")
    free = {e for e in lines if await store.locks.get(e) is None}
    for environment in sorted(free | await left_locks(runner)):
        await runner.next_in_line(environment)


async def left_locks(runner: Runner) -> set[str]:
    """Environments whose job lock was left by a replica that stopped half way: release the
    locks of finished jobs; returns those environments and the ones whose lock waits for its
    queued request's start (``Line.advance`` starts a request holding the lock first)."""
    store, now, ttl = runner.tools.store, runner.tools.clock(), runner.timing.ttl
    found: set[str] = set()
    for lock in await store.locks.all():
        if lock.kind != "job" or lock.deployment_id is None or now - lock.acquired_at < ttl:
            continue  # a young lock: its replica may be a moment from starting or releasing
        d = await store.deployments.get(lock.deployment_id)
        if d is not None and d.state == "queued" and not runner.holds(d.id):
            found.add(lock.environment)
        elif d is None or (d.is_terminal and now - d.updated_at >= ttl):
            released = await store.locks.release(lock.environment, deployment_id=lock.deployment_id)
            if released is None:
                continue  # released meanwhile
            state = "gone" if d is None else d.state.replace("_", " ")
            log.warning(
                "released %s's lock, left by %s (%s)", lock.environment, lock.deployment_id, state
            )
            await store.audit.append(
                BOT,
                "lock.released",
                environment=lock.environment,
                deployment_id=lock.deployment_id,
                details={
                    "holder": lock.holder,
                    "reason": f"its job is {state}; the replica that ran it never released it",
                },
            )
            found.add(lock.environment)
    return found
