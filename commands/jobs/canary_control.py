"""People steering a running canary from its card: pause, resume, promote, abort.

A click records the wish here and wakes the job, which acts on it at once; pausing is also
stored in the job's context by the job, so a restart keeps a paused canary paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from commands.jobs.watch import rollback_signal

if TYPE_CHECKING:
    from commands.jobs.base import JobTools

Action = Literal["pause", "resume", "promote", "abort"]
ACTIONS: tuple[Action, ...] = ("pause", "resume", "promote", "abort")


@dataclass(frozen=True)
class Control:
    action: Action
    user: str


def ask(tools: JobTools, deployment_id: str, action: Action, user: str) -> None:
    """Hand the job a person's wish and wake it."""
    tools.controls[deployment_id] = Control(action, user)
    rollback_signal(tools, deployment_id).set()


def control_of(tools: JobTools, deployment_id: str) -> Control | None:
    """The wish waiting for the job, taken (each is acted on once)."""
    signal = rollback_signal(tools, deployment_id)
    control = tools.controls.pop(deployment_id, None)
    if control is not None:
        signal.clear()
    return control
