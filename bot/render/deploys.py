"""Ephemeral answers about deployments: started, busy, the dry-run plan, the rollback prompt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.render.answers import Message, lock_line, message, refused, section
from bot.render.plan_canary import canary_parts
from bot.render.text import code, escape
from commands.deploy_results import Answer, Busy, ConfirmRollback, Started
from commands.jobs.steps import plan_text
from commands.plan import Plan
from commands.results import Refused
from storage import Deployment


def click_answer(result: Answer | Refused) -> Message:
    if isinstance(result, Refused):
        return refused(result)
    return message(escape(result.text))


def started_answer(result: Started | Busy | Refused | Answer, now: datetime) -> Message:
    if isinstance(result, Refused | Answer):
        return click_answer(result)
    if isinstance(result, Busy):
        return message(
            f":no_entry: {escape(result.lock.environment)} is busy — {lock_line(result.lock, now)}"
        )
    if result.signalled:
        return message(
            f":rewind: Rolling {escape(result.environment)} back now "
            f"(deployment `{result.deployment_id}`)."
        )
    if result.existing:
        return message(
            f"That request is already deployment `{result.deployment_id}`; see its card."
        )
    wait = (
        f" It needs {result.approvals_required} approval(s) first."
        if result.approvals_required
        else ""
    )
    return message(
        f":rocket: {code(result.version)} to *{escape(result.environment)}* is deployment "
        f"`{result.deployment_id}`; the card is in the channel.{wait}"
    )


def plan(p: Plan) -> Message:
    what = "canary of " if p.canary else ""
    lines = [
        f"*Dry run: {what}{code(p.version)} to {escape(p.environment)}* — nothing was changed."
    ]
    lines.append(
        f"Now: {escape(p.live or '?')} serves {code(p.live_version or '?')}; "
        f"the new version goes to {escape(p.target or '?')}."
    )
    lines.append("*Steps*")
    lines += [f"{i}. {escape(plan_text(s))}" for i, s in enumerate(p.steps, 1)]
    lines.append("*Azure resources touched*")
    lines += [f"• {escape(r)}" for r in p.resources]
    lines.append(f"*Approvals:* {escape(p.approvals)}")
    lines.append(f"*Rollback path:* {escape(p.rollback)}")
    lines.append("*Pre-checks*")
    lines += [
        f"{'✓' if ok else '✗'} {escape(name)}: {escape(detail)}" for name, ok, detail in p.checks
    ]
    text = "\n".join(lines)
    parts = canary_parts(p.canary) if p.canary else []
    return message("\n".join([text, *parts]), [section(t) for t in (text, *parts)])


def confirm_rollback(c: ConfirmRollback) -> Message:
    text = (
        f"Roll *{escape(c.environment)}* back from {code(c.current or '?')} to {code(c.version)}?"
    )
    value = json.dumps({"environment": c.environment, "version": c.version, "reason": c.reason})
    button: dict[str, Any] = {
        "type": "button",
        "action_id": "rollback.confirm",
        "text": {"type": "plain_text", "text": f"Roll back to {c.version}"[:75]},
        "style": "danger",
        "value": value[:2000],
        "confirm": {
            "title": {"type": "plain_text", "text": "Roll back?"},
            "text": {"type": "mrkdwn", "text": text},
            "confirm": {"type": "plain_text", "text": "Roll back"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        },
    }
    return message(text, [section(text), {"type": "actions", "elements": [button]}])


def reject_dialog(d: Deployment) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "deploy.reject_reason",
        "private_metadata": d.id,
        "title": {"type": "plain_text", "text": "Reject deployment"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Reject {code(d.version)} to *{escape(d.environment)}*?"),
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (optional)"},
                "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True},
            },
        ],
    }
