"""Carrying an unfinished job on after a restart, or after its replica died elsewhere.

One path for both: claim the job's lease (a job another replica still holds is left to it),
read what Azure shows now, say so in the audit log and the thread, and run the job again
from its stored steps. The steps are idempotent and the switch looks before it moves.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from commands.jobs.base import BOT, finish
from commands.jobs.context import JobContext
from commands.jobs.notes import TextNote
from commands.platform.errors import PlatformError
from storage import Deployment

if TYPE_CHECKING:
    from commands.runner import Runner

log = logging.getLogger(__name__)


async def resume(runner: Runner, d: Deployment) -> bool:
    """Carry the job on here; False when another replica holds its lease (it runs there)."""
    tools = runner.tools
    claimed = await runner.claim(d.id)
    if claimed is None:
        return False
    env = tools.config.environments.get(d.environment)
    if env is None:
        await finish(
            tools,
            d,
            "cancelled",
            live_version=None,
            error=f"environment {d.environment} is no longer configured",
        )
        runner.lose(d.id)
        await tools.store.leases.release(d.id, runner.replica)
        return False
    state = None
    try:
        state = await tools.platform.read_state(env)
    except PlatformError as error:
        log.warning("recovering %s: cannot read Azure yet: %s", d.id, error)
    found_text = (
        f"found {state.live} serves {state.live_version}" if state else "Azure could not be read"
    )
    pending = JobContext.of(d).swap
    if pending is not None and pending.step == d.current_step:
        found_text += (
            f"; the swap asked for at {pending.requested_at:%H:%M:%S} UTC may still be "
            "running in Azure, so the job waits for it before deciding"
        )
    found = found_text.removeprefix("found ")
    details: dict[str, Any] = {"state": d.state, "step": d.current_step, "found": found}
    where = ""
    if claimed.taken_from is not None:
        details |= {"replica": runner.replica, "taken_over_from": claimed.taken_from}
        where = (
            f" on replica {runner.replica}, which took the job over when "
            f"{claimed.taken_from} stopped renewing its lease"
        )
    await tools.store.audit.append(
        BOT, "job.recovered", environment=d.environment, deployment_id=d.id, details=details
    )
    await tools.reporter.note(
        d.id,
        TextNote(
            f"Resumed after a restart at {d.current_step or d.state}{where}: found {found_text}."
        ),
    )
    runner.start(d, resumed=True)
    return True
