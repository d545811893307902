"""Pure rendering of a deployment's card (the root message) and its thread notes.

``render_card(view, now)`` turns a :class:`CardView` into a chat.postMessage / chat.update
payload that tells the truth about the current state and offers only the buttons that make
sense now. ``card_view`` builds the view from what storage holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from bot.render.text import code as code_span
from bot.render.text import duration, escape, mention, when
from storage.approvals import Approval
from storage.deployment_model import Deployment
from storage.timeutil import parse_iso_utc

SlackMessage = dict[str, Any]
CardState = Literal[
    "pending_approval", "queued", "running", "watching", "succeeded", "failed",
    "rolling_back", "rolled_back", "rejected", "expired", "cancelled", "paused",
]  # fmt: skip
STATES: dict[str, tuple[str, str]] = {
    "pending_approval": (":hourglass_flowing_sand:", "Waiting for approval"),
    "queued": (":inbox_tray:", "Queued"),
    "running": (":rocket:", "Running"),
    "paused": (":double_vertical_bar:", "Paused"),
    "watching": (":eyes:", "Watching"),
    "succeeded": (":white_check_mark:", "Succeeded"),
    "failed": (":x:", "Failed"),
    "rolling_back": (":rewind:", "Rolling back"),
    "rolled_back": (":leftwards_arrow_with_hook:", "Rolled back"),
    "rejected": (":no_entry:", "Rejected"),
    "expired": (":alarm_clock:", "Expired — request again"),
    "cancelled": (":octagonal_sign:", "Cancelled"),
}
STEP_MARKS = {"done": "✓", "running": "⏳", "failed": "✗", "pending": "○", "skipped": "–"}
_KINDS = {"deploy": "Deploy", "rollback": "Rollback", "canary": "Canary"}
_STRATEGIES = {"bluegreen": "blue-green", "canary": "canary"}
SECTION_LIMIT = 3000


class CardError(ValueError):
    """A CardView that cannot be rendered truthfully (unknown state, kind or step status)."""


class CardStep(NamedTuple):
    name: str
    status: str  # pending | running | done | failed | skipped
    detail: str | None = None
    seconds: float | None = None


class TrafficShare(NamedTuple):
    target: str
    percent: float


class CardApproval(NamedTuple):
    user: str
    decision: str  # approve | reject
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CardView:
    deployment_id: str
    environment: str
    kind: str  # deploy | rollback | canary
    strategy: str
    requested_by: str
    to_version: str
    state: str
    from_version: str | None = None
    reason: str | None = None
    steps: tuple[CardStep, ...] = ()
    traffic: tuple[TrafficShare, ...] = ()
    traffic_effective: bool | None = None
    approvals_required: int = 0
    approvals: tuple[CardApproval, ...] = ()
    requested_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    watch_until: datetime | None = None
    dry_run: bool = False
    override_note: str | None = None
    error: str | None = None
    rollback_note: str | None = None

    def __post_init__(self) -> None:
        if not self.deployment_id or len(self.deployment_id) > 200:
            raise CardError(f"deployment_id must be 1-200 characters, got {self.deployment_id!r}")
        if self.state not in STATES:
            raise CardError(f"unknown card state {self.state!r}; one of {', '.join(STATES)}")
        if self.kind not in _KINDS:
            raise CardError(f"card kind must be deploy, rollback or canary, not {self.kind!r}")
        for step in self.steps:
            if step.status not in STEP_MARKS:
                raise CardError(f"step {step.name!r} has unknown status {step.status!r}")
        for approval in self.approvals:
            if approval.decision not in ("approve", "reject"):
                raise CardError(f"unknown approval decision {approval.decision!r}")
        times = [self.requested_at, self.started_at, self.finished_at, self.expires_at]
        times += [self.watch_until, *(a.at for a in self.approvals)]
        if any(t is not None and t.utcoffset() is None for t in times):
            raise CardError("card times must be timezone-aware")

    @property
    def approved(self) -> int:
        return sum(1 for a in self.approvals if a.decision == "approve")

    def rollback_offered(self, now: datetime) -> bool:
        return (
            self.state in ("watching", "succeeded")
            and self.watch_until is not None
            and now < self.watch_until
            and self.kind != "rollback"
            and self.from_version is not None
            and not self.dry_run
        )


# -- the card --------------------------------------------------------------------------------
def render_card(view: CardView, now: datetime) -> SlackMessage:
    """``{"text": fallback, "blocks": [...]}`` for chat.postMessage / chat.update."""
    if now.utcoffset() is None:
        raise CardError("render_card needs a timezone-aware now")
    emoji, label = STATES[view.state]
    title = f"{_KINDS[view.kind]} · {view.environment}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, 150)},
        _section(_summary(view)),
        {
            "type": "section",
            "fields": [_mrkdwn(f"*State*\n{emoji} {label}"), _mrkdwn(_clock_field(view, now))],
        },
    ]
    if view.steps:
        lines = [_step_line(step) for step in view.steps]
        blocks.append(_section(_fit(["*Steps*", *lines])))
    if view.traffic:
        blocks.append(_section(_traffic(view)))
    if view.approvals_required or view.approvals:
        blocks.append(_section(_fit(_approval_lines(view))))
    if view.error:
        blocks.append(_section(f":x: *Error:* {escape(view.error)}"))
    if view.rollback_note:
        blocks.append(
            _section(f":leftwards_arrow_with_hook: *Rollback:* {escape(view.rollback_note)}")
        )
    blocks.append({"type": "context", "elements": [_mrkdwn(_footer(view, now))]})
    buttons = _buttons(view, now)
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"deploy_card.{view.deployment_id}",
                "elements": buttons,
            }
        )
    versions = f"{view.from_version or '(nothing)'} → {view.to_version}"
    fallback = f"{title}: {versions} — {label}"
    return {"text": _clip(escape(fallback), SECTION_LIMIT), "blocks": blocks}


def _summary(view: CardView) -> str:
    live = code_span(view.from_version) if view.from_version else "_(nothing live)_"
    versions = f"{live} → {code_span(view.to_version)}"
    strategy = _STRATEGIES.get(view.strategy, escape(view.strategy))
    lines = [f"{versions} · {strategy} · requested by {mention(view.requested_by)}"]
    if view.reason:
        lines.append("> " + escape(" ".join(view.reason.split())))
    if view.dry_run:
        lines.append(":test_tube: *Dry run* — nothing will be changed")
    if view.override_note:
        lines.append(f":warning: *Override:* {escape(view.override_note)}")
    return "\n".join(lines)


def _clock_field(view: CardView, now: datetime) -> str:
    if view.started_at is not None:
        end = view.finished_at or now
        return f"*Elapsed*\n{duration(max(0.0, (end - view.started_at).total_seconds()))}"
    if view.requested_at is not None and view.finished_at is None:
        waited = max(0.0, (now - view.requested_at).total_seconds())
        return f"*Requested*\n{duration(waited)} ago"
    if view.requested_at is not None:
        return f"*Requested*\n{when(view.requested_at)}"
    return "*Elapsed*\n–"


def _step_line(step: CardStep) -> str:
    line = f"{STEP_MARKS[step.status]} {escape(step.name)}"
    if step.seconds is not None:
        line += f" ({duration(step.seconds)})"
    if step.detail:
        line += f" — {escape(step.detail)}"
    return line


def _traffic(view: CardView) -> str:
    split = " · ".join(f"{escape(t.target)} {t.percent:g}%" for t in view.traffic)
    if view.traffic_effective is True:
        split += " _(effective)_"
    elif view.traffic_effective is False:
        split += " _(switched; clients follow after the DNS TTL)_"
    return f"*Traffic:* {split}"


def _approval_lines(view: CardView) -> list[str]:
    lines = [f"*Approvals:* {view.approved} of {view.approvals_required}"]
    for a in view.approvals:
        if a.decision == "approve":
            lines.append(f"✅ {mention(a.user)} approved · {when(a.at)}")
        else:
            reason = f": {escape(a.reason)}" if a.reason else ""
            lines.append(f"⛔ {mention(a.user)} rejected · {when(a.at)}{reason}")
    return lines


def _footer(view: CardView, now: datetime) -> str:
    parts = [f"id {code_span(view.deployment_id)}"]
    if view.started_at is not None:
        parts.append(f"started {when(view.started_at)}")
    if view.finished_at is not None:
        parts.append(f"finished {when(view.finished_at)}")
    if view.state == "pending_approval" and view.expires_at is not None:
        left = max(0.0, (view.expires_at - now).total_seconds())
        parts.append(f"expires {when(view.expires_at)} (in {duration(left)})")
    if view.rollback_offered(now) and view.watch_until is not None:
        parts.append(f"Roll back offered until {when(view.watch_until)}")
    return " · ".join(parts)


def _buttons(view: CardView, now: datetime) -> list[dict[str, Any]]:
    if view.dry_run:
        return []
    value = view.deployment_id
    if view.state == "pending_approval":
        return [
            _button("Approve", "deploy.approve", value, "primary"),
            _button("Reject", "deploy.reject", value, "danger"),
        ]
    if view.kind == "canary" and view.state in ("running", "paused"):
        first = (
            _button("Pause", "canary.pause", value)
            if view.state == "running"
            else _button("Resume", "canary.resume", value)
        )
        return [
            first,
            _button("Promote", "canary.promote", value, "primary"),
            _button("Abort", "canary.abort", value, "danger"),
        ]
    if view.rollback_offered(now):
        target = view.from_version or ""
        confirm = {
            "title": _plain(f"Roll back {view.environment}?", 100),
            "text": _plain(f"Traffic goes back to {target} (now {view.to_version}).", 300),
            "confirm": _plain("Roll back", 30),
            "deny": _plain("Cancel", 30),
            "style": "danger",
        }
        return [_button("Roll back", "deploy.rollback", value, "danger", confirm)]
    return []


# -- thread notes ----------------------------------------------------------------------------
class HealthRow(NamedTuple):
    check: str
    ok: bool
    value: object = None
    threshold: object = None
    detail: str | None = None


def step_reply(
    name: str, status: str, detail: str | None = None, duration_s: float | None = None
) -> SlackMessage:
    if status not in STEP_MARKS:
        raise CardError(f"step {name!r} has unknown status {status!r}")
    words = {"running": "started", "done": "done"}
    text = f"{STEP_MARKS[status]} *{escape(name)}* {words.get(status, status)}"
    if duration_s is not None:
        text += f" in {duration(duration_s)}"
    if detail:
        text += f"\n{escape(detail)}"
    return _note(text)


def health_table(
    rows: Sequence[HealthRow | tuple[str, bool, object, object, str | None]],
) -> SlackMessage:
    """Health checks as a monospace table in a code block, with a one-line verdict above."""
    checked = [HealthRow(*row) for row in rows]
    failed = sum(1 for row in checked if not row.ok)
    if not checked:
        return _note(":grey_question: No health checks ran")
    verdict = (
        f":white_check_mark: All {len(checked)} health checks passed"
        if not failed
        else f":x: {failed} of {len(checked)} health checks failed"
    )
    table = [("", "check", "value", "threshold", "detail")] + [
        ("✓" if r.ok else "✗", r.check, _cell(r.value), _cell(r.threshold), r.detail or "")
        for r in checked
    ]
    cells = [[_clip(str(c).replace("`", "'"), 40) for c in row] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = [
        escape("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for row in cells
    ]
    budget = SECTION_LIMIT - len(verdict) - 40
    shown = _fit(lines, budget)
    return _note(f"{verdict}\n```\n{shown}\n```", fallback=verdict)


def error_reply(operation: str, code: str | None, message: str) -> SlackMessage:
    where = f"{code_span(code)}: " if code else ""
    return _note(f":x: *{escape(operation)}* failed — {where}{escape(message)}")


def approval_reply(
    user: str, decision: str, reason: str | None, count: int, required: int
) -> SlackMessage:
    if decision == "approve":
        text = f"✅ {mention(user)} approved ({count} of {required})"
        if required and count >= required:
            text += " — approvals complete"
    elif decision == "reject":
        text = f"⛔ {mention(user)} rejected" + (f": {escape(reason)}" if reason else "")
    else:
        raise CardError(f"unknown approval decision {decision!r}")
    return _note(text)


def _cell(value: object) -> str:
    return "–" if value is None else str(value)


def _note(text: str, *, fallback: str | None = None) -> SlackMessage:
    return {"text": _clip(fallback or text, SECTION_LIMIT), "blocks": [_section(text)]}


# -- from storage ----------------------------------------------------------------------------
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


# -- Block Kit pieces ------------------------------------------------------------------------
def _button(
    label: str,
    action_id: str,
    value: str,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(label, 75),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or "–", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text, SECTION_LIMIT) or "–"}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit(lines: Sequence[str], limit: int = SECTION_LIMIT) -> str:
    """Whole lines up to ``limit`` characters, then a count of what was left out."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        line = _clip(line, limit // 2)
        if used + len(line) + 1 > limit - 40:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)
