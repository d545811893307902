"""Durable execution: jobs run in a supervised task set and pick up where they stopped.

Every step is persisted before and after it runs, so after a crash the runner reads the
unfinished deployments, compares them with what Azure shows, and carries each one on: the
steps are idempotent and the switch looks at where traffic is before it moves anything.

Each job runs under a lease (see ``commands.job_leases``): on several replicas exactly one
runs it, and when that one dies another takes the job over by the same recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from commands.job_leases import DEFAULT_LEASE, LeaseTiming, deliver, replica_name
from commands.jobs.base import BOT, JobTools, current_deployment, finish
from commands.jobs.bluegreen import BlueGreenJob
from commands.jobs.canary import CanaryJob
from commands.jobs.notes import TextNote
from commands.jobs.stopping import ShuttingDown, interruptible_sleep
from commands.lease_keeper import keep_leases
from commands.platform.errors import PlatformError
from commands.queueing import Line
from commands.recovery import resume
from commands.stopping import finish_or_cancel
from storage import Claimed, Deployment

log = logging.getLogger(__name__)
RUNNABLE = ("queued", "running", "paused", "watching", "rolling_back")


class Runner:
    def __init__(
        self, tools: JobTools, *, lease: timedelta = DEFAULT_LEASE, replica: str | None = None
    ) -> None:
        self.tools = tools
        self.timing = LeaseTiming(lease)
        #: This process's name in the job leases it holds.
        self.replica = replica or replica_name()
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        # Jobs whose lease this runner holds (claimed; renewed by the keeper until released).
        self._leased: set[str] = set()
        self._keeper: asyncio.Task[None] | None = None
        self._keeper_stopping = asyncio.Event()
        self._changed = asyncio.Event()
        # Requests waiting for their environment: the next one starts when a job ends here.
        self.line = Line(tools, self.start)
        tools.sleep = functools.partial(interruptible_sleep, tools.sleep, tools.stopping)

    def running(self, deployment_id: str) -> bool:
        """Whether the job runs in this process (another replica may run it: ``reachable``)."""
        return deployment_id in self._jobs

    async def reachable(self, deployment_id: str) -> bool:
        """Whether some replica runs the job: here, or under another's lease. An expired lease
        counts: its job is being taken over, and a signal waits in the database for it."""
        if deployment_id in self._jobs:
            return True
        return await self.tools.store.leases.get(deployment_id) is not None

    async def signal(self, deployment_id: str, action: str, actor: str) -> None:
        """Hand a person's wish (``rollback``, ``pause``, …) to the job, wherever it runs."""
        if deployment_id in self._jobs:
            deliver(self.tools, deployment_id, action, actor)
        else:
            await self.tools.store.signals.send(deployment_id, action, actor)

    def in_flight(self) -> int:
        """How many jobs run in this process now (timers for pending approvals excluded)."""
        return len(self._jobs)

    def start(self, deployment: Deployment, *, resumed: bool = False) -> bool:
        """Run the deployment's job unless it already runs here; False if it did."""
        if deployment.id in self._jobs:
            return False
        self.cancel_timer(deployment.id)
        task = asyncio.create_task(self._run(deployment, resumed), name=f"job:{deployment.id}")
        self._jobs[deployment.id] = task
        return True

    def at(self, deployment_id: str, delay_s: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` after ``delay_s`` (e.g. expire a pending request) unless cancelled."""
        self.cancel_timer(deployment_id)

        async def fire() -> None:
            await asyncio.sleep(max(0.0, delay_s))
            self._timers.pop(deployment_id, None)
            try:
                await action()
            except Exception:
                log.exception("timer for %s failed", deployment_id)

        self._timers[deployment_id] = asyncio.create_task(fire(), name=f"timer:{deployment_id}")

    def cancel_timer(self, deployment_id: str) -> None:
        timer = self._timers.pop(deployment_id, None)
        if timer is not None:
            timer.cancel()

    async def _run(self, deployment: Deployment, resumed: bool) -> None:
        current_deployment.set((deployment.environment, deployment.id))
        try:
            if not await self._claim(deployment.id):
                return
            job = CanaryJob if deployment.kind == "canary" else BlueGreenJob
            await job(self.tools, deployment, resumed=resumed).run()
        except asyncio.CancelledError:
            raise
        except ShuttingDown as where:
            await self._suspended(deployment, str(where))
        except Exception as error:
            await self._crashed(deployment, error)
        finally:
            self._jobs.pop(deployment.id, None)
            await self._release(deployment.id)
            self._changed.set()
        await self.next_in_line(deployment.environment)

    async def next_in_line(self, environment: str) -> None:
        """The environment may be free now: start the next approved request waiting for it."""
        try:
            await self.line.advance(environment)
        except Exception:
            log.exception("could not start the next request for %s", environment)

    async def _claim(self, deployment_id: str) -> bool:
        if deployment_id not in self._leased and await self.claim(deployment_id) is None:
            log.info("job %s runs on another replica; not starting it here", deployment_id)
            return False
        return True

    async def claim(self, deployment_id: str) -> Claimed | None:
        """Take the job's lease for this runner (None: another replica holds it)."""
        claimed = await self.tools.store.leases.claim(deployment_id, self.replica, self.timing.ttl)
        if claimed is not None:
            self._leased.add(deployment_id)
        return claimed

    async def _release(self, deployment_id: str) -> None:
        """Give the lease up so another replica (or the next start) can carry on at once."""
        if deployment_id in self._leased:
            self._leased.discard(deployment_id)
            try:
                await self.tools.store.leases.release(deployment_id, self.replica)
            except Exception:  # it expires by itself
                log.warning("could not release the lease of %s", deployment_id, exc_info=True)

    async def _suspended(self, deployment: Deployment, step: str) -> None:
        """Stopped at a safe point on SIGTERM: say so; the next start carries on from here."""
        tools = self.tools
        try:
            current = await tools.store.deployments.get(deployment.id) or deployment
            step = step or current.current_step or ""
            await tools.store.audit.append(
                BOT,
                "job.suspended",
                environment=deployment.environment,
                deployment_id=deployment.id,
                details={"step": step},
            )
            await tools.reporter.note(
                deployment.id,
                TextNote(
                    f"deploybot is stopping: paused at {step or 'the next step'}; "
                    "the job carries on when deploybot starts again."
                ),
            )
        except Exception:
            log.exception("could not record the suspension of %s", deployment.id)

    async def _crashed(self, deployment: Deployment, error: Exception) -> None:
        """A bug or an unexpected failure: say so on the card and in the log, never drop it."""
        reference = uuid.uuid4().hex[:8]
        log.exception("job %s crashed (reference %s)", deployment.id, reference)
        tools = self.tools
        try:
            current = await tools.store.deployments.get(deployment.id) or deployment
            await tools.store.audit.append(
                BOT,
                "job.crashed",
                environment=current.environment,
                deployment_id=current.id,
                details={"reference": reference, "error": f"{type(error).__name__}: {error}"},
            )
            live = None
            with contextlib.suppress(PlatformError):
                live = (
                    await tools.platform.read_state(tools.config.environments[current.environment])
                ).live_version
            await tools.reporter.note(
                current.id,
                TextNote(
                    f"Internal error (reference {reference}); "
                    f"production serves {live or 'an unknown version'}."
                ),
            )
            if not current.is_terminal:
                await finish(
                    tools,
                    current,
                    "failed",
                    live_version=live,
                    error=f"internal error, reference {reference}",
                )
        except Exception:
            log.exception("could not report the crash of %s", deployment.id)

    async def recover(self, expire: Callable[[str], Awaitable[None]]) -> list[Deployment]:
        """After a (re)start: carry on every unfinished deployment; returns what was found.

        Left alone: a job another replica holds a live lease on, and one created or approved
        on another replica so recently that it is still claiming it. Should that replica
        die, the keeper (``keep``) takes the job over once the lease is overdue."""
        found = await self.tools.store.deployments.unfinished()
        leases = await self.tools.store.leases.of([d.id for d in found])
        now = self.tools.clock()
        lines: set[str] = set()
        for d in found:
            if d.state == "pending_approval":
                remaining = (d.expires_at - now).total_seconds() if d.expires_at else 0
                self.at(d.id, remaining, functools.partial(expire, d.id))
            elif d.state == "queued" and d.environment in self.tools.config.environments:
                lines.add(d.environment)  # approved, not started: it waits for its lock
            elif d.state == "queued":
                await finish(
                    self.tools,
                    d,
                    "cancelled",
                    live_version=None,
                    error=f"environment {d.environment} is no longer configured",
                )
            elif d.id in leases or now - d.updated_at >= self.timing.ttl:
                await resume(self, d)
        for environment in sorted(lines):
            await self.next_in_line(environment)
        return found

    def held_leases(self) -> set[str]:
        return set(self._leased)

    def holds(self, deployment_id: str) -> bool:
        """Whether this runner runs the job or holds its lease."""
        return deployment_id in self._jobs or deployment_id in self._leased

    def times(self, deployment_id: str) -> bool:
        """Whether this runner has a timer for the deployment (a pending request's expiry)."""
        return deployment_id in self._timers

    def lose(self, deployment_id: str) -> None:
        """Another replica holds the job's lease now: stop it here at once."""
        self._leased.discard(deployment_id)
        if (task := self._jobs.get(deployment_id)) is not None:
            task.cancel()

    def keep(self, expire: Callable[[str], Awaitable[None]], *, take_over: bool = True) -> None:
        """Keep this runner's leases, take signals for its jobs from other replicas and, with
        ``take_over``, carry on jobs whose replica died (and expire their requests)."""
        if self._keeper is None:
            self._keeper_stopping.clear()
            self._keeper = asyncio.create_task(
                keep_leases(self, expire if take_over else None, self._keeper_stopping),
                name="job-leases",
            )

    async def idle(self) -> None:
        """Wait until no job runs (timers for pending approvals do not count)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs.values()), return_exceptions=True)
        await self.tools.reporter.flush()

    async def shutdown(self, grace_s: float) -> None:
        """SIGTERM: each job stops at its next safe point (an Azure call in flight finishes),
        within ``grace_s``; whatever is still running then is stopped as a crash would be."""
        self.tools.stopping.set()
        if grace_s > 0 and self._jobs:
            await asyncio.wait(list(self._jobs.values()), timeout=grace_s)
        await self.stop()
        await self.tools.reporter.flush()

    async def stop(self) -> None:
        """Stop at once, as a crash would: nothing is rolled back, the next start resumes."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:  # the round it is in finishes first
            self._keeper_stopping.set()
            await finish_or_cancel(keeper)
        tasks = [*self._jobs.values(), *self._timers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        self._timers.clear()
