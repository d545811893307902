"""Rolling back from the watch: traffic goes back first, the records of it follow.

Every write before the switch is time production spends on the version being rolled back
(a state, a step and their audit rows: commits behind every other writer). So when the
watch breaches, or a person clicks Roll back, the switch back starts at once and the job
records the breach, the state and the rollback step while Azure answers; ``Job`` writes its
row one write at a time, so the switch's own records (a slot swap's) keep their order.

A crash after the switch and before those records leaves the deployment "watching" in the
database. The resumed watch looks first (``first_look``): traffic already back on the live
target means a rollback was under way, and the job rolls back from there, which looks
before it moves and so finds the switch done and only verifies and records it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from commands.jobs.steps import Step
from commands.jobs.switching import Switcher
from commands.jobs.watch import Breach
from commands.platform.errors import PlatformError

if TYPE_CHECKING:
    from commands.jobs.base import Job

log = logging.getLogger(__name__)
SwitchBack = asyncio.Future[tuple[float, str]]


async def switch_back_first(job: Job) -> SwitchBack | None:
    """Start switching traffic back to the live target; None when this run cannot know where
    traffic is (it resumed after a restart: the rollback step looks first, as always)."""
    ctx = job.ctx
    if job.resumed or not ctx.switched or ctx.live is None or ctx.previous_version is None:
        return None
    switcher = Switcher(job, step=Step.ROLLBACK)
    switching = asyncio.ensure_future(
        switcher.switch_back(ctx.live, ctx.previous_version, look_first=False)
    )
    switching.add_done_callback(_log_unawaited_failure)
    # One turn of the loop: the switch's first request (or a swap's record, which comes
    # before its request) is on its way before the breach's first row is.
    await asyncio.sleep(0)
    return switching


async def first_look(job: Job) -> None:
    """A resumed watch: is production traffic still where this deployment put it?

    Raises Breach when it is not: it went back before the restart (a rollback whose records
    the crash cut short), and the job rolls back from there.
    """
    try:
        state = await job.tools.platform.read_state(job.env)
    except PlatformError as error:
        # Unreadable now: the watch's own health checks see a version gone back.
        log.warning("resumed watch of %s could not read Azure: %s", job.id, error)
        return
    if Switcher(job).serves(state, job.target, job.deployment.version):
        return
    raise Breach(
        f"production traffic was already back on {job.ctx.live} when the job resumed",
        "resumed",
        requested_by=job.ctx.rollback_requested_by,
    )


def _log_unawaited_failure(switching: SwitchBack) -> None:
    # The rollback step awaits the switch and reports its failure; this covers a job that
    # failed in between (its records could not be written), so the error is not lost.
    if not switching.cancelled() and (error := switching.exception()) is not None:
        log.warning("switching back failed: %s", error)
