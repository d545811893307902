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
from commands.queueing import ordinal
from commands.requests import Deploy
from commands.results import Refused
from storage import Deployment

QUEUE_ACTION = "deploy.queue"


def click_answer(result: Answer | Refused) -> Message:
    if isinstance(result, Refused):
        return refused(result)
    return message(escape(result.text))


def started_answer(result: Started | Busy | Refused | Answer, now: datetime) -> Message:
    if isinstance(result, Refused | Answer):
        return click_answer(result)
    if isinstance(result, Busy):
        return busy(result, now)
    if result.signalled:
        return message(
            f":rewind: Rolling {escape(result.environment)} back now "
            f"(deployment `{result.deployment_id}`)."
        )
    if result.already is not None:
        return message(
            f":arrow_right: {code(result.version)} to *{escape(result.environment)}* is already on "
            f"its way as deployment `{result.deployment_id}` ({result.already.replace('_', ' ')}); "
            "see its card. Nothing new was requested."
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
    if result.place is not None:
        return message(
            f":inbox_tray: {code(result.version)} to *{escape(result.environment)}* is deployment "
            f"`{result.deployment_id}`, {ordinal(result.place)} in line; it starts when "
            f"{escape(result.environment)} is free. The card is in the channel.{wait}"
        )
    return message(
        f":rocket: {code(result.version)} to *{escape(result.environment)}* is deployment "
        f"`{result.deployment_id}`; the card is in the channel.{wait}"
    )


def busy(result: Busy, now: datetime) -> Message:
    """Who holds the environment, and a Queue it button when the request can wait for it."""
    env = escape(result.lock.environment)
    text = f":no_entry: {env} is busy — {lock_line(result.lock, now)}"
    offer = result.offer
    if offer is None:
        return message(text)
    value = {
        "environment": offer.environment,
        "version": offer.version,
        "strategy": offer.strategy,
        "force": offer.force,
        "reason": offer.reason,
        "stages": list(offer.stages) if offer.stages else None,
        "key": result.offer_key,
    }
    button = {
        "type": "button",
        "action_id": QUEUE_ACTION,
        "text": {"type": "plain_text", "text": "Queue it"},
        "style": "primary",
        "value": json.dumps(value)[:2000],
    }
    text += f"\nQueue it: {code(offer.version)} waits in line and starts when {env} is free."
    return message(text, [section(text), {"type": "actions", "elements": [button]}])


def queued_request(value: str) -> tuple[Deploy, str | None] | None:
    """The request a Queue it button carries (None if the value is not one), and its key."""
    try:
        chosen = json.loads(value)
        stages = chosen.get("stages")
        strategy = chosen.get("strategy")
        if strategy not in (None, "bluegreen", "canary"):
            return None
        request = Deploy(
            environment=str(chosen["environment"]),
            version=str(chosen["version"]),
            strategy=strategy,
            dry_run=False,
            force=bool(chosen.get("force")),
            reason=None if chosen.get("reason") is None else str(chosen["reason"]),
            stages=tuple(int(s) for s in stages) if stages else None,
            queue=True,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    key = chosen.get("key")
    return request, (None if key is None else str(key))


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
