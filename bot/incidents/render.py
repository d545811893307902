"""Pure: an incident, its alerts and the last deployment → the incident card's Block Kit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.render.text import code, duration, escape, when
from commands.incidents.responding import RollbackPlan
from storage import Deployment, Incident, IncidentAlert

ROLLBACK, ACK, UNACK, RESOLVE = (
    "incident.rollback",
    "incident.ack",
    "incident.unack",
    "incident.resolve",
)
EMOJI = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":white_circle:",
}
STATE = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}
MAX_ALERTS = 10
LIVE_SOURCE = {
    True: " (read from Azure)",
    False: " (deploybot's last deployment: Azure did not answer)",
    None: "",
}


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    alerts: Sequence[IncidentAlert]
    last: Deployment | None
    plan: RollbackPlan | str
    live_from_azure: bool | None = None
    """True: ``live_version`` was just read from Azure; False: Azure did not answer, it is
    what deploybot last deployed; None: not asked (unmapped or resolved)."""


def incident_card(view: IncidentView, now: datetime) -> dict[str, Any]:
    i = view.incident
    firing = [a for a in view.alerts if a.status == "firing"]
    head = (
        f"{EMOJI.get(i.severity, ':white_circle:')} *{escape(i.severity.upper())}* · "
        f"{escape(i.title)} · {STATE[i.state]}"
    )
    where = (
        f"Environment *{escape(i.environment)}* ({escape(i.mapped_why)}) · live "
        f"{code(i.live_version or 'unknown')}{LIVE_SOURCE[view.live_from_azure]}"
        if i.environment
        else f"Environment: unmapped — {escape(i.mapped_why)}"
    )
    blocks: list[dict[str, Any]] = [
        _section(head),
        _context(
            f"{escape(i.source)} · incident {code(i.id)} · triggered {when(i.triggered_at)} · "
            f"fired {i.fire_count}× · {len(firing)} of {len(view.alerts)} alerts firing"
        ),
        _section(where),
    ]
    if view.last is not None:
        blocks.append(_section(_deployment_line(view.last, i.triggered_at)))
    for alert in view.alerts[:MAX_ALERTS]:
        blocks.append(_section(_alert_line(alert)))
    if len(view.alerts) > MAX_ALERTS:
        blocks.append(_context(f"… and {len(view.alerts) - MAX_ALERTS} more alerts"))
    blocks.append(_context(_times(i)))
    buttons = _buttons(view)
    if isinstance(view.plan, str) and i.state != "resolved":
        blocks.append(_context(f"No rollback button: {escape(view.plan)}"))
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident", "elements": buttons})
    text = f"{i.severity.upper()} {i.title} ({STATE[i.state]})"
    return {"text": text[:3000], "blocks": blocks}


def _deployment_line(d: Deployment, triggered: datetime) -> str:
    before = (triggered - (d.finished_at or d.created_at)).total_seconds()
    source = f"{code(d.from_version)} → " if d.from_version else ""
    return (
        f"Last deployment: {source}{code(d.version)} by {code(d.requested_by)}, "
        f"{when(d.finished_at or d.created_at)} ({d.kind} {code(d.id)}), "
        f"{duration(max(0.0, before))} before the first alert"
    )


def _alert_line(a: IncidentAlert) -> str:
    mark = ":rotating_light:" if a.status == "firing" else ":white_check_mark:"
    parts = [f"{mark} *{escape(a.name)}* — {escape(a.summary)}"]
    if a.values:
        parts.append(", ".join(f"{escape(k)} = {escape(v)}" for k, v in list(a.values.items())[:6]))
    links = [f"<{_url(u)}|{escape(k)}>" for k, u in a.links.items() if _safe_link(u)][:4]
    if links:
        parts.append(" · ".join(links))
    return "\n".join(parts)[:2900]


def _times(i: Incident) -> str:
    parts = [f"triggered {when(i.triggered_at)}"]
    if i.acknowledged_at:
        parts.append(f"acknowledged after {duration(i.acknowledged_at - i.triggered_at)}")
    if i.mitigated_at:
        parts.append(f"mitigated after {duration(i.mitigated_at - i.triggered_at)}")
    if i.resolved_at:
        parts.append(f"resolved after {duration(i.resolved_at - i.triggered_at)}")
    return " · ".join(parts)


def _buttons(view: IncidentView) -> list[dict[str, Any]]:
    i = view.incident
    if i.state == "resolved":
        return []
    out: list[dict[str, Any]] = []
    plan = view.plan
    if isinstance(plan, RollbackPlan) and i.rollback_id is None:
        out.append(
            {
                "type": "button",
                "action_id": ROLLBACK,
                "text": {"type": "plain_text", "text": f"Roll back to {plan.target}"[:75]},
                "value": i.id,
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Roll back?"},
                    "text": {
                        "type": "mrkdwn",
                        "text": f"Roll *{escape(plan.environment)}* back from "
                        f"{code(plan.current or 'unknown')} to {code(plan.target)}?",
                    },
                    "confirm": {"type": "plain_text", "text": "Roll back"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            }
        )
    if i.state == "open":
        out.append(_button(ACK, "Acknowledge", i.id))
    else:
        out.append(_button(UNACK, "Unacknowledge", i.id))
    out.append(_button(RESOLVE, "Resolve", i.id))
    return out


def _button(action_id: str, label: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


def _safe_link(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(c in url for c in "<>| \n")


def _url(url: str) -> str:
    return url.replace("&", "&amp;")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def note_message(text: str) -> dict[str, Any]:
    """A line of the incident log: escaped, so no sender or user text can mention anyone."""
    shown = escape(text)
    return {"text": shown[:3000], "blocks": [_section(shown)]}


def link_message(text: str, url: str, label: str) -> dict[str, Any]:
    """A log line ending in a link (a job's card): the text escaped, the URL checked."""
    shown = escape(text)
    linked = f"{shown} <{_url(url)}|{escape(label)}>" if _safe_link(url) else shown
    return {"text": f"{shown} {url}"[:3000], "blocks": [_section(linked)]}
