"""The one list of blue-green steps: which a deployment has, what they are called, how they end.

The job runs them, the card lists them and the thread reports them, all from ``Step`` and the
tables below; stored step names are the enum's values, so existing rows keep rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from commands.config.model import Hooks
from commands.jobs.context import JobContext
from storage import Deployment
from storage.deployment_model import Step as StoredStep


class Step(StrEnum):
    PRECHECK = "precheck"
    DEPLOY = "deploy"
    RESTART = "restart"
    WAIT_VERSION = "wait_version"
    HEALTH_GATE = "health_gate"
    PRE_SWITCH_HOOK = "pre_switch_hook"
    SWITCH = "switch"
    VERIFY = "verify"
    POST_SWITCH_HOOK = "post_switch_hook"
    WATCH = "watch"
    CANARY = "canary"
    PROMOTE = "promote"
    ROLLBACK = "rollback"

    @classmethod
    def of(cls, name: str) -> Step | None:
        """The step a stored name stands for; None for names this job does not know."""
        try:
            return cls(name)
        except ValueError:
            return None


#: Putting the version on the idle target and checking it there; a switch back skips them.
DEPLOY_STEPS = (Step.DEPLOY, Step.RESTART, Step.WAIT_VERSION, Step.HEALTH_GATE)


def plan_steps(kind: str, hooks: Hooks) -> list[Step]:
    """The checklist of a deployment of ``kind`` with these hooks, in the order it runs."""
    steps = [Step.PRECHECK, *DEPLOY_STEPS]
    if kind == "canary":
        # The stages move traffic step by step; promotion is the switch.
        return [*steps, Step.CANARY, Step.PROMOTE, Step.VERIFY]
    if hooks.pre_switch:
        steps.append(Step.PRE_SWITCH_HOOK)
    steps += [Step.SWITCH, Step.VERIFY]
    if kind != "rollback":
        if hooks.post_switch:
            steps.append(Step.POST_SWITCH_HOOK)
        steps.append(Step.WATCH)
    return steps


#: What the dry run says each step will do (before anything about the targets is known).
PLAN_TEXT: dict[Step, str] = {
    Step.PRECHECK: "pre-checks: artifact, target health, lock, freeze",
    Step.DEPLOY: "put the version on the idle target (package URL or image + version setting)",
    Step.RESTART: "restart the idle target",
    Step.WAIT_VERSION: "wait until it reports the version",
    Step.HEALTH_GATE: "health checks on its own host",
    Step.PRE_SWITCH_HOOK: "pre-switch hook",
    Step.SWITCH: "switch production traffic",
    Step.VERIFY: "verify production through the public host",
    Step.POST_SWITCH_HOOK: "post-switch hook",
    Step.WATCH: "watch production (health and error rate)",
    Step.CANARY: "send each stage's share of traffic to the new version and judge it",
    Step.PROMOTE: "send all production traffic to the new version",
    Step.ROLLBACK: "switch back and verify the old version serves",
}

#: A short name for "stopped at …" and "not run: …".
NOUNS: dict[Step, str] = {
    Step.PRECHECK: "pre-checks",
    Step.DEPLOY: "deploy",
    Step.RESTART: "restart",
    Step.WAIT_VERSION: "version wait",
    Step.HEALTH_GATE: "health checks",
    Step.PRE_SWITCH_HOOK: "pre-switch hook",
    Step.SWITCH: "switch",
    Step.VERIFY: "verify",
    Step.POST_SWITCH_HOOK: "post-switch hook",
    Step.WATCH: "watch",
    Step.CANARY: "canary analysis",
    Step.PROMOTE: "promotion",
    Step.ROLLBACK: "rollback",
}


def plan_text(name: str) -> str:
    step = Step.of(name)
    return PLAN_TEXT[step] if step else _fallback(name)


def noun(name: str) -> str:
    step = Step.of(name)
    return NOUNS[step] if step else name.replace("_", " ")


def step_label(name: str, deployment: Deployment) -> str:
    """The checklist line for a step: names the targets once the pre-checks have chosen them,
    and says nothing it does not know yet (no "the idle target" placeholders)."""
    step = Step.of(name)
    if step is None:
        return _fallback(name)
    ctx = JobContext.of(deployment)
    version = deployment.version
    target, live = ctx.target, ctx.live
    back = deployment.kind == "rollback"
    if step is Step.PRECHECK:
        return "Pre-checks (artifact, health, lock, freeze)"
    if step is Step.DEPLOY:
        return f"Put {version} on {target}" if target else f"Put {version} in place"
    if step is Step.RESTART:
        return f"Restart {target}" if target else f"Restart with {version}"
    if step is Step.WAIT_VERSION:
        return f"Wait for {target} to report {version}" if target else f"Wait for {version}"
    if step is Step.HEALTH_GATE:
        return f"Health checks on {target}" if target else f"Health checks on {version}"
    if step is Step.PRE_SWITCH_HOOK:
        return "Pre-switch hook"
    if step is Step.SWITCH:
        if target and live:
            return f"Switch traffic {live} → {target}"
        return f"Switch traffic back to {version}" if back else f"Switch traffic to {version}"
    if step is Step.VERIFY:
        return "Verify production"
    if step is Step.POST_SWITCH_HOOK:
        return "Post-switch hook"
    if step is Step.WATCH:
        return "Watch production"
    if step is Step.CANARY:
        stages = " → ".join(f"{p} %" for p in canary_percents(deployment))
        return f"Canary {stages}" if stages else "Canary stages"
    if step is Step.PROMOTE:
        return f"Promote {target} to 100 %" if target else f"Promote {version}"
    previous = ctx.previous_version
    return f"Roll back to {previous}" if previous else "Roll back"


def canary_percents(deployment: Deployment) -> tuple[int, ...]:
    """The stages a canary was asked for (stored in its flags when it was created)."""
    stages = deployment.flags.get("stages")
    if not isinstance(stages, list):
        return ()
    return tuple(p for p in stages if isinstance(p, int) and not isinstance(p, bool))


def _fallback(name: str) -> str:
    return name.replace("_", " ").capitalize()


# -- terminal truth ----------------------------------------------------------------------------
OUTCOME_WORDS = {
    "succeeded": "succeeded",
    "failed": "stopped",
    "rolled_back": "rolled back",
    "cancelled": "cancelled",
    "rejected": "rejected",
    "expired": "request expired",
}


def settle(
    steps: Sequence[StoredStep], outcome: str, error: str | None, now: datetime
) -> tuple[StoredStep, ...]:
    """The checklist of a finished deployment: nothing is left running or pending.

    A step still running is what the outcome stopped: it failed with ``error`` (the rule or
    error that stopped it). Steps that never ran are skipped, saying why ("not run: rolled
    back", "not run: stopped at health checks").
    """
    if outcome == "failed":
        stopped_at = next(
            (s for s in steps if s.status in ("failed", "running") and s.name != Step.ROLLBACK),
            None,
        )
        why = f"stopped at {noun(stopped_at.name)}" if stopped_at else "stopped"
    else:
        why = OUTCOME_WORDS.get(outcome, outcome.replace("_", " "))
    settled: list[StoredStep] = []
    for s in steps:
        if s.status == "running":
            detail = s.detail or error or f"interrupted: {why}"
            s = StoredStep(s.name, "failed", detail, s.started_at, now)
        elif s.status == "pending":
            s = StoredStep(s.name, "skipped", f"not run: {why}", None, None)
        settled.append(s)
    return tuple(settled)
