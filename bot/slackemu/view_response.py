"""What Slack does with the app's answer to a view_submission.

Empty 200: the modal closes. ``response_action``: ``errors`` keeps it open with messages,
``update`` replaces it, ``push`` stacks a new one, ``clear`` closes the whole stack.
Anything else (an error status, a time-out): the modal stays open, as in Slack's client.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import SlackError
from .model import View
from .workspace import Workspace


def apply_view_response(ws: Workspace, view: View, status: int | None, body: str) -> View | None:
    """Returns the view the user sees afterwards (None when the modal is gone)."""
    if status != 200:
        return ws.views.get(view.id)
    if not body.strip():
        ws.views.close(view.id)
        return ws.views.top(view.user)
    try:
        answer: Any = json.loads(body)
    except json.JSONDecodeError:
        return ws.views.get(view.id)
    action = answer.get("response_action") if isinstance(answer, dict) else None
    try:
        if action == "errors" and isinstance(answer.get("errors"), dict):
            return ws.views.set_errors(
                view.id, {str(k): str(v) for k, v in answer["errors"].items()}
            )
        if action == "update" and isinstance(answer.get("view"), dict):
            return ws.views.update(answer["view"], view_id=view.id)
        if action == "push" and isinstance(answer.get("view"), dict):
            return ws.views.open(view.user, answer["view"], previous=view)
        if action == "clear":
            ws.views.close_stack(view.id)
            return None
    except SlackError:
        return ws.views.get(view.id)
    ws.views.close(view.id)
    return ws.views.top(view.user)
