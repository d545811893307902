"""The card's view of a stored deployment: ``card_view(deployment, approvals)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.render.canary_card import CanaryCard, CanaryMetric
from bot.render.card import (
    STATES,
    CardApproval,
    CardError,
    CardLine,
    CardStep,
    CardView,
    TrafficShare,
)
from commands.jobs.context import JobContext
from commands.jobs.steps import canary_percents
from commands.queueing import Place
from storage.approvals import Approval
from storage.deployment_model import Deployment


def card_view(
    deployment: Deployment,
    approvals: Sequence[Approval],
    *,
    traffic: Sequence[tuple[str, float]] = (),
    watch_until: datetime | None = None,
    line: Place | None = None,
) -> CardView:
    """The view of a stored deployment; what the job chose and found comes from its
    ``JobContext`` (traffic, watch end, start, override, rollback note and requester)."""
    ctx = JobContext.of(deployment)
    started = [s.started_at for s in deployment.steps if s.started_at is not None]
    shares = traffic or ctx.traffic
    override = ctx.override
    if override is None and deployment.flags.get("force"):
        missing = deployment.flags.get("promotion_override")
        override = (
            f"--force: not yet succeeded on {', '.join(map(str, missing))}"
            if missing
            else "--force"
        )
    return CardView(
        deployment_id=deployment.id,
        environment=deployment.environment,
        kind=deployment.kind,
        strategy=deployment.strategy,
        requested_by=deployment.requested_by,
        to_version=deployment.version,
        state=_card_state(deployment, approvals),
        from_version=deployment.from_version,
        reason=deployment.reason,
        steps=tuple(
            CardStep(
                s.name,
                s.status,
                s.detail,
                None
                if s.started_at is None or s.finished_at is None
                else (s.finished_at - s.started_at).total_seconds(),
            )
            for s in deployment.steps
        ),
        traffic=tuple(TrafficShare(str(name), float(pct)) for name, pct in shares),
        traffic_effective=ctx.traffic_effective,
        approvals_required=deployment.approvals_required,
        approvals=tuple(CardApproval(a.approver, a.decision, a.at, a.reason) for a in approvals),
        requested_at=deployment.created_at,
        started_at=min(started) if started else ctx.started_at,
        finished_at=deployment.finished_at,
        expires_at=deployment.expires_at,
        watch_until=watch_until or ctx.watch_until,
        dry_run=deployment.is_dry_run,
        override_note=override,
        error=_error_text(deployment.error),
        rollback_note=ctx.rollback_note,
        rollback_requested_by=ctx.rollback_requested_by,
        canary=_canary(deployment, ctx),
        line=None
        if line is None
        else CardLine(line.position, line.of, line.holder, line.holding_deployment),
    )


def _canary(deployment: Deployment, ctx: JobContext) -> CanaryCard | None:
    progress = ctx.canary
    if deployment.kind != "canary" or progress is None:
        return None
    return CanaryCard(
        stage=progress.stage + 1,
        stages=canary_percents(deployment),
        started_at=progress.stage_started_at,
        hold_s=progress.hold_s,
        effective=progress.effective,
        paused=progress.paused,
        rule=progress.rule,
        metrics=tuple(CanaryMetric(*row) for row in progress.rows),
    )


def _card_state(deployment: Deployment, approvals: Sequence[Approval]) -> str:
    if deployment.state in STATES:
        return deployment.state
    if deployment.state in ("pending", "approved"):
        approved = sum(1 for a in approvals if a.decision == "approve")
        waiting = deployment.state == "pending" and approved < deployment.approvals_required
        return "pending_approval" if waiting else "queued"
    raise CardError(
        f"deployment {deployment.id} has a state the card cannot show: {deployment.state!r}"
    )


def _error_text(error: Mapping[str, Any] | None) -> str | None:
    if not error:
        return None
    message = _text(error.get("message")) or _text(error.get("text")) or ""
    code_ = _text(error.get("code"))
    text = f"({code_}) {message}".strip() if code_ else message
    operation = _text(error.get("operation"))
    return f"{operation}: {text}" if operation and text else (text or operation or "unknown error")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
