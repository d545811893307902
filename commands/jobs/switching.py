"""Moving production traffic, idempotently: a resumed job first looks at where traffic is.

A slot swap is an operation Azure finishes on its own, even after the process that asked for
it has died. So the job records each swap as it asks (and its operation once Azure accepts
it); a job resumed after a crash waits for that operation to end and looks at what it did
before it decides anything, and never asks for a second swap while one is still running.
The record is written beside the request, not before it: a swap whose operation was never
recorded is followed by looking, recorded or not (the site answers Conflict while it runs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from commands.jobs.context import PendingSwap
from commands.jobs.notes import TextNote
from commands.platform.base import TargetRef, site_of
from commands.platform.errors import Conflict, SwapFailed
from commands.platform.state import EnvironmentState

if TYPE_CHECKING:
    from commands.jobs.base import Job

# How long a resumed job waits for a swap it cannot see the end of (one asked for in the
# instant before a crash, before Azure's answer could be recorded) while the site is busy.
BUSY_WAIT_S = 900.0
BUSY_POLL_S = 2.0


class Switcher:
    def __init__(self, job: Job, *, step: str | None = None) -> None:
        """``step``: the step a swap is recorded against, when the switch starts before the
        job has recorded that step as running (a rollback's switch goes first)."""
        self.job = job
        self.env = job.env
        self.tools = job.tools
        self.step = step

    async def switch_to(self, target: str, version: str) -> tuple[float, str]:
        """Send all production traffic to ``target``; returns (seconds, what was done)."""
        how = (
            f"swap {self.env.azure.slot} → production"
            if self.env.topology == "slots"
            else f"Traffic Manager: {target} 100 %"
        )
        settled = await self._settle_earlier_swap(how)
        if settled is not None:
            return settled
        state = await self.tools.platform.read_state(self.env)
        if self.serves(state, target, version):
            return 0.0, "already switched (found after a restart)"
        return await self._move(target, version, how)

    async def switch_back(
        self, live: str, version: str, *, look_first: bool = True
    ) -> tuple[float, str]:
        """Give traffic back to ``live``, which ran ``version`` before this deployment.

        ``look_first=False`` when this very run made the switch: the state is known, and every
        Azure round trip before the switch is time production spends on the bad version.
        """
        how = "swap back" if self.env.topology == "slots" else f"flip back to {live}"
        if look_first:
            settled = await self._settle_earlier_swap(how)
            if settled is not None:
                return settled
            if self.serves(await self.tools.platform.read_state(self.env), live, version):
                return 0.0, f"{how}: already done"
        return await self._move(live, version, how)

    def serves(self, state: EnvironmentState, target: str, version: str) -> bool:
        """Whether all production traffic is on ``target`` running ``version``."""
        if self.env.topology == "slots":
            # After a swap the new version runs in production and the old one in the slot.
            return state.live_version == version
        return state.live == target and state.target(target).traffic_percent >= 100

    async def _settle_earlier_swap(self, how: str) -> tuple[float, str] | None:
        """A swap this step asked for before a restart: wait for it, then say what it did.

        Returns the step's result when that swap did the work; None when there is nothing
        to wait for or it is not known how it ended (the state is read next, as usual).
        """
        pending = self.job.ctx.swap
        step = self.job.deployment.current_step
        if self.env.topology != "slots" or pending is None or pending.step != step:
            return None
        if pending.token is None:
            return None  # Azure's answer was never recorded: _move sees whether a swap runs
        started = self.tools.monotonic()
        asked = f"{pending.requested_at:%H:%M:%S} UTC"
        await self.job.note(
            TextNote(
                f"A swap deploybot asked Azure for at {asked}, before the restart, may still be "
                "running: waiting for it to end before deciding."
            )
        )
        platform = self.tools.platform
        before = (await platform.read_state(self.env)).live_version
        outcome, detail = await platform.settle_swap(
            site_of(self.env), str(self.env.azure.slot), pending.token
        )
        took = self.tools.monotonic() - started
        await self.job.audit("swap.settled", outcome=outcome, detail=detail, asked_at=asked)
        if outcome == "failed":
            raise SwapFailed("swap", self.env.name, "SwapFailed", detail)
        if outcome == "unknown":
            await self.job.note(TextNote(f"Could not follow that swap ({detail}); looking."))
            return None
        when = (
            "had completed while deploybot was down"
            if before == self.job.deployment.version
            else f"completed {took:.1f}s after the restart"
        )
        await self.job.note(TextNote(f"The swap asked for at {asked} {when}."))
        return took, f"{how}: the swap asked for before the restart {when}"

    async def _move(self, target: str, version: str, how: str) -> tuple[float, str]:
        platform = self.tools.platform
        started = self.tools.monotonic()
        if self.env.topology == "traffic-manager":
            await platform.set_split(self.env, {target: 100.0})
            return self.tools.monotonic() - started, how
        site = site_of(self.env)
        slot = str(self.env.azure.slot)
        step = self.step or self.job.deployment.current_step or ""
        asked = PendingSwap(step, self.tools.clock())
        recorded = asyncio.ensure_future(self.job.save(swap=asked))
        await asyncio.sleep(0)  # first in the job's writes; the request does not wait for it

        async def accepted(token: str) -> None:
            await recorded
            await self.job.save(swap=PendingSwap(step, asked.requested_at, token))

        try:
            return await self._swap(site, slot, accepted, target, version, how, started)
        finally:
            await recorded

    async def _swap(
        self,
        site: TargetRef,
        slot: str,
        accepted: Callable[[str], Awaitable[None]],
        target: str,
        version: str,
        how: str,
        started: float,
    ) -> tuple[float, str]:
        platform = self.tools.platform
        waited = 0.0
        while True:
            try:
                await platform.swap(site, slot, on_accepted=accepted)
                break
            except SwapFailed:
                raise
            except Conflict:
                # Another operation runs on the site, perhaps a swap asked for just before a
                # restart: let it end and look again; never ask for a second swap meanwhile.
                if waited >= BUSY_WAIT_S:
                    raise
                await self.tools.sleep(BUSY_POLL_S)
                waited += BUSY_POLL_S
                if self.serves(await platform.read_state(self.env), target, version):
                    return (
                        self.tools.monotonic() - started,
                        f"{how}: a swap already running in Azure did it",
                    )
        return self.tools.monotonic() - started, how

    def effective(self) -> str:
        if self.env.topology == "slots":
            return "effective at once (slot swap)"
        return "switched (API accepted); DNS clients follow within the profile's TTL"
