"""The console's waits: for jobs to finish, for one to be watched, for a canary's stage N (say,
to inject a fault there), and for a click on a canary's card to be acted on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from bot.services import Services
from bot.slackemu import Workspace
from bot.slackemu.model import Change
from commands.jobs.context import JobContext
from storage import Deployment


def stage_number(words: str) -> int:
    """``stage 2`` → 2; anything else is a ValueError that says what to type."""
    parts = words.split()
    if len(parts) != 2 or parts[0] != "stage" or not parts[1].isdigit() or int(parts[1]) < 1:
        raise ValueError(f"wait for what? say wait, wait watching or wait stage N (not {words!r})")
    return int(parts[1])


def _in_stage(deployment: Deployment, number: int) -> bool:
    progress = JobContext.of(deployment).canary
    return (
        progress is not None
        and progress.stage_started_at is not None
        and (progress.stage >= number - 1)
    )


def _stage_note(cards: set[str | None], number: int) -> Callable[[Change], bool]:
    def said(change: Change) -> bool:
        message = change.message
        return (
            message is not None
            and message.thread_ts in cards
            and f"Stage {number} of " in message.text
        )

    return said


async def wait_for_stage(services: Services, ws: Workspace, number: int, limit_s: float) -> str:
    """ "" once a canary is in stage ``number``; otherwise why waiting ended ("? …" / "! …")."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        mark = ws.mark()
        canaries = [d for d in await services.store.deployments.unfinished() if d.kind == "canary"]
        there = [d for d in canaries if _in_stage(d, number)]
        if there:
            # The job stores the stage, then says so in its thread: show that too.
            with contextlib.suppress(TimeoutError):
                await ws.wait_for(_stage_note({d.card_ts for d in there}, number), timeout=5.0)
            await services.runner.tools.reporter.flush()
            return ""
        if not canaries:
            return f"? no canary is running that could reach stage {number}"
        if all(d.state == "paused" for d in canaries):
            await services.runner.tools.reporter.flush()
            paused = ", ".join(f"{d.environment} {d.version}" for d in canaries)
            return (
                f"? the canary is paused ({paused}) before stage {number}:"
                " click Resume, Promote or Abort on its card"
            )
        left = deadline - loop.time()
        if left <= 0:
            return f"! waited {limit_s:g} s for a canary to reach stage {number}"
        # The stage is stored in the database; a Slack change (or a second) is the cue.
        with contextlib.suppress(TimeoutError):
            await ws.wait_for(lambda change: True, since=mark, timeout=min(left, 1.0))


# Long enough for a job on a busy machine to act; only a click the job ignores waits it out.
CONTROL_WAIT_S = 20.0


async def after_canary_click(services: Services, ws: Workspace, card_ts: str, since: int) -> None:
    """A Pause/Resume/Promote/Abort click is acted on by the job, not by the listener. The job
    changes the deployment (and asks for the card to be redrawn) before it says what it did
    in the thread: once that reply is there, flushing the reporter shows the card after the
    click, so what the console prints next, and the buttons ``click`` numbers, are current."""

    def replied(change: Change) -> bool:
        message = change.message
        return message is not None and message.thread_ts == card_ts and message.ts != card_ts

    with contextlib.suppress(TimeoutError):  # a click the job ignored (say, Pause twice)
        await ws.wait_for(replied, since=since, timeout=CONTROL_WAIT_S)
    await services.runner.tools.reporter.flush()


async def wait_for_jobs(services: Services, ws: Workspace, limit_s: float) -> str:
    """ "" once every job has finished; a "? …" line when the only jobs left wait for a person
    (a paused canary would otherwise keep `wait` waiting for ever); "! …" after ``limit_s``."""
    runner = services.runner
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        mark = ws.mark()
        unfinished = await services.store.deployments.unfinished()
        moving = [d for d in unfinished if runner.running(d.id) or d.state == "queued"]
        if not moving and not services.tasks.busy:
            await services.idle()
            return ""
        if moving and all(d.state == "paused" for d in moving) and not services.tasks.busy:
            await runner.tools.reporter.flush()
            paused = ", ".join(f"{d.environment} {d.version}" for d in moving)
            return f"? the canary is paused ({paused}): click Resume, Promote or Abort on its card"
        left = deadline - loop.time()
        if left <= 0:
            return f"! waited {limit_s:g} s; jobs are still running"
        with contextlib.suppress(TimeoutError):
            await ws.wait_for(lambda change: True, since=mark, timeout=min(left, 1.0))


async def wait_watching(services: Services, ws: Workspace, limit_s: float) -> str:
    """ "" once a job is being watched; why not otherwise ("? …" / "! …")."""
    runner = services.runner
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        mark = ws.mark()
        unfinished = await services.store.deployments.unfinished()
        if any(d.state == "watching" for d in unfinished):
            await runner.tools.reporter.flush()
            return ""
        moving = services.tasks.busy or any(
            runner.running(d.id) or d.state == "queued" for d in unfinished
        )
        if not moving:
            return (
                "? nothing to wait for: no job is running that could reach watching "
                f"({describe_deployments(unfinished)})"
            )
        left = deadline - loop.time()
        if left <= 0:
            return (
                f"! waited {limit_s:g} s for a job to be watched; "
                f"still {describe_deployments(unfinished)}"
            )
        # The job's state is in the database; a Slack change (or a second) is the cue.
        with contextlib.suppress(TimeoutError):
            await ws.wait_for(lambda change: True, since=mark, timeout=min(left, 1.0))


def describe_deployments(unfinished: list[Deployment]) -> str:
    if not unfinished:
        return "no deployment is in progress"
    return ", ".join(
        f"{d.environment} {d.version} is {d.state.replace('_', ' ')}" for d in unfinished
    )
