"""Pure rendering of the replies in a deployment card's thread: steps, health, errors, votes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bot.render.card import SECTION_LIMIT, STEP_MARKS, CardError, SlackMessage, clip, fit, section
from bot.render.text import code as code_span
from bot.render.text import duration, escape, mention


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
    cells = [[clip(str(c).replace("`", "'"), 40) for c in row] for row in table]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = [
        escape("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        for row in cells
    ]
    budget = SECTION_LIMIT - len(verdict) - 40
    shown = fit(lines, budget)
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
    return {"text": clip(fallback or text, SECTION_LIMIT), "blocks": [section(text)]}
