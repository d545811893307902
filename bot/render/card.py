"""Pure rendering of a deployment's card (the root message).

``render_card(view, now)`` turns a :class:`CardView` into a chat.postMessage / chat.update
payload that tells the truth about the current state and offers only the buttons that make
sense now. ``bot.render.card_view`` builds the view from what storage holds; the thread
replies live in ``bot.render.thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from bot.render.canary_card import CanaryCard, canary_lines
from bot.render.text import code as code_span
from bot.render.text import duration, escape, mention, when
from commands.jobs.steps import OUTCOME_WORDS
from commands.queueing import ordinal
from storage.deployment_model import TERMINAL_STATES

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


class CardLine(NamedTuple):
    """A request waiting in its environment's line: ``position`` of ``of``."""

    position: int
    of: int
    holder: str | None  # who holds the environment now (None: nobody, it starts soon)
    holding_deployment: str | None = None


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
    rollback_requested_by: str | None = None
    """The user who asked for the rollback during the watch (a request, not an error)."""
    canary: CanaryCard | None = None
    line: CardLine | None = None

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
        section(_summary(view)),
        {
            "type": "section",
            "fields": [_mrkdwn(f"*State*\n{emoji} {label}"), _mrkdwn(_clock_field(view, now))],
        },
    ]
    if view.steps:
        lines = [_step_line(step) for step in _settled(view)]
        blocks.append(section(fit(["*Steps*", *lines])))
    if view.traffic:
        blocks.append(section(_traffic(view)))
    if view.canary is not None:
        running = view.state in ("running", "paused")
        blocks.append(section(fit(canary_lines(view.canary, now, running=running))))
    if view.line is not None:
        blocks.append(section(_line(view, view.line)))
    if view.approvals_required or view.approvals:
        blocks.append(section(fit(_approval_lines(view))))
    if view.rollback_requested_by:
        blocks.append(section(_requested_rollback(view)))
    if view.error:
        blocks.append(section(f":x: *Error:* {escape(view.error)}"))
    if view.rollback_note:
        blocks.append(
            section(f":leftwards_arrow_with_hook: *Rollback:* {escape(view.rollback_note)}")
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
    return {"text": clip(escape(fallback), SECTION_LIMIT), "blocks": blocks}


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


def _settled(view: CardView) -> tuple[CardStep, ...]:
    """A finished card never shows a step as still running or waiting to run, even if what
    was stored says so (the job settles the checklist when it finishes; this is the guard)."""
    if view.state not in TERMINAL_STATES:  # after these nothing runs
        return view.steps
    why = OUTCOME_WORDS.get(view.state, view.state.replace("_", " "))
    return tuple(
        step._replace(status="failed", detail=step.detail or f"interrupted: {why}")
        if step.status == "running"
        else step._replace(status="skipped", detail=f"not run: {why}", seconds=None)
        if step.status == "pending"
        else step
        for step in view.steps
    )


def _requested_rollback(view: CardView) -> str:
    """Neutral, with a real mention: a person asking to roll back is not an error."""
    who = mention(str(view.rollback_requested_by))
    if view.state == "rolled_back":
        return f":leftwards_arrow_with_hook: Rolled back at the request of {who}"
    if view.state == "rolling_back":
        return f":rewind: Rolling back at the request of {who}"
    return f":leftwards_arrow_with_hook: Roll back requested by {who}"


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


def _line(view: CardView, line: CardLine) -> str:
    env = escape(view.environment)
    held = ""
    if line.holding_deployment:
        held = f" (now running {code_span(line.holding_deployment)})"
    elif line.holder:
        held = f" (locked by {mention(line.holder)})"
    when_ = "after its approvals, when" if view.state == "pending_approval" else "when"
    return (
        f":inbox_tray: *In line:* {ordinal(line.position)} of {line.of} for {env}; "
        f"it starts {when_} {env} is free{held}."
    )


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
            _button(
                "Promote",
                "canary.promote",
                value,
                "primary",
                _confirm(
                    f"Promote {view.to_version}?",
                    f"All of {view.environment}'s traffic goes to {view.to_version} now, "
                    "without the rest of the analysis.",
                    "Promote",
                ),
            ),
            _button(
                "Abort",
                "canary.abort",
                value,
                "danger",
                _confirm(
                    f"Abort the canary of {view.to_version}?",
                    f"Traffic goes back to {view.from_version or 'the live version'} now.",
                    "Abort",
                ),
            ),
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


# -- Block Kit pieces (``section``, ``clip`` and ``fit`` are shared with the thread replies) --
def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": _plain(title, 100),
        "text": _plain(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain("Cancel", 30),
        "style": "danger",
    }


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
    return {"type": "plain_text", "text": clip(text, limit) or "–", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT) or "–"}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit(lines: Sequence[str], limit: int = SECTION_LIMIT) -> str:
    """Whole lines up to ``limit`` characters, then a count of what was left out."""
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        line = clip(line, limit // 2)
        if used + len(line) + 1 > limit - 40:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)
