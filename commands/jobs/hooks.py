"""The pre- and post-switch hooks: one HTTP request each, whose answer lets the job go on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.jobs.base import StepFailed

if TYPE_CHECKING:
    from commands.jobs.base import Job


async def call_hook(job: Job, when: str) -> str:
    """``when``: "pre" or "post" (the switch)."""
    phase = f"{when}_switch"
    hook = getattr(job.env.hooks, phase)
    payload = {
        "environment": job.env.name,
        "version": job.deployment.version,
        "deployment": job.id,
        "phase": phase,
    }
    try:
        answer = await job.tools.http.request(
            hook.method,
            hook.url,
            json=payload,
            headers=hook.headers,
            timeout=hook.timeout.total_seconds(),
        )
    except Exception as error:  # the hook's host may be down: that stops the job
        failure = f"{phase} hook {hook.url} did not answer ({type(error).__name__})"
        raise StepFailed(failure) from None
    if not answer.is_success:
        raise StepFailed(f"{phase} hook answered {answer.status_code}")
    return f"{phase} hook answered {answer.status_code}"
