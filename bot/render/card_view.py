"""The card's view of a stored deployment: ``card_view(deployment, approvals)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.render.card import STATES, CardApproval, CardError, CardStep, CardView, TrafficShare
from storage.approvals import Approval
from storage.deployment_model import Deployment
from storage.timeutil import parse_iso_utc


def card_view(
    deployment: Deployment,
    approvals: Sequence[Approval],
    *,
    traffic: Sequence[tuple[str, float]] = (),
    watch_until: datetime | None = None,
) -> CardView:
    """The view of a stored deployment. Optional ``context`` keys the jobs may set:
    ``traffic`` ({target: percent}), ``traffic_effective`` (bool), ``watch_until`` (ISO),
    ``started_at`` (ISO), ``override`` (text), ``rollback_note`` (text)."""
    ctx = deployment.context
    started = [s.started_at for s in deployment.steps if s.started_at is not None]
    shares = traffic or _context_traffic(ctx.get("traffic"))
    effective = ctx.get("traffic_effective")
    override = _text(ctx.get("override"))
    if override is None and deployment.flags.get("force"):
        override = "--force"
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
        traffic_effective=effective if isinstance(effective, bool) else None,
        approvals_required=deployment.approvals_required,
        approvals=tuple(CardApproval(a.approver, a.decision, a.at, a.reason) for a in approvals),
        requested_at=deployment.created_at,
        started_at=min(started) if started else _when(ctx.get("started_at")),
        finished_at=deployment.finished_at,
        expires_at=deployment.expires_at,
        watch_until=watch_until or _when(ctx.get("watch_until")),
        dry_run=deployment.is_dry_run,
        override_note=override,
        error=_error_text(deployment.error),
        rollback_note=_text(ctx.get("rollback_note")),
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


def _context_traffic(value: object) -> list[tuple[str, float]]:
    pairs = (
        value.items() if isinstance(value, Mapping) else value if isinstance(value, list) else []
    )
    out: list[tuple[str, float]] = []
    for pair in pairs:
        if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[1], int | float):
            out.append((str(pair[0]), float(pair[1])))
    return out


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_iso_utc(value) if isinstance(value, str) else None
    except ValueError:  # a malformed hint is ignored: the card must still render
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
