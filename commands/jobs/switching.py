"""Moving production traffic, idempotently: a resumed job first looks at where traffic is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.platform.base import site_of
from commands.platform.errors import Conflict, SwapFailed
from commands.platform.state import EnvironmentState

if TYPE_CHECKING:
    from commands.jobs.base import Job

CONFLICT_RETRIES = 5


class Switcher:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.env = job.env
        self.tools = job.tools

    async def switch_to(self, target: str, version: str) -> tuple[float, str]:
        """Send all production traffic to ``target``; returns (seconds, what was done)."""
        state = await self.tools.platform.read_state(self.env)
        if self._serves(state, target, version):
            return 0.0, "already switched (found after a restart)"
        how = (
            f"swap {self.env.azure.slot} → production"
            if self.env.topology == "slots"
            else f"Traffic Manager: {target} 100 %"
        )
        return await self._move(target, version, how)

    async def switch_back(
        self, live: str, version: str, *, look_first: bool = True
    ) -> tuple[float, str]:
        """Give traffic back to ``live``, which ran ``version`` before this deployment.

        ``look_first=False`` when this very run made the switch: the state is known, and every
        Azure round trip before the switch is time production spends on the bad version.
        """
        how = "swap back" if self.env.topology == "slots" else f"flip back to {live}"
        if look_first and self._serves(
            await self.tools.platform.read_state(self.env), live, version
        ):
            return 0.0, f"{how}: already done"
        return await self._move(live, version, how)

    def _serves(self, state: EnvironmentState, target: str, version: str) -> bool:
        if self.env.topology == "slots":
            # After a swap the new version runs in production and the old one in the slot.
            return state.live_version == version
        return state.live == target and state.target(target).traffic_percent >= 100

    async def _move(self, target: str, version: str, how: str) -> tuple[float, str]:
        platform = self.tools.platform
        started = self.tools.monotonic()
        if self.env.topology == "traffic-manager":
            await platform.set_split(self.env, {target: 100.0})
            return self.tools.monotonic() - started, how
        site = site_of(self.env)
        slot = str(self.env.azure.slot)
        for attempt in range(CONFLICT_RETRIES):
            try:
                await platform.swap(site, slot)
                break
            except SwapFailed:
                raise
            except Conflict:
                # Another swap (ours, from before a restart) is still running: let it finish.
                if attempt == CONFLICT_RETRIES - 1:
                    raise
                await self.tools.sleep(1.0)
                if self._serves(await platform.read_state(self.env), target, version):
                    break
        return self.tools.monotonic() - started, how

    def effective(self) -> str:
        if self.env.topology == "slots":
            return "effective at once (slot swap)"
        return "switched (API accepted); DNS clients follow within the profile's TTL"
