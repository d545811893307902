"""What one person sees of a channel or a thread, as numbered terminal lines."""

from __future__ import annotations

import datetime as dt

from .clock import ts_key
from .model import Ephemeral, Message
from .text import Rendered, render_conversation
from .workspace import Workspace


def visible_to(
    ws: Workspace, user: str, channel: str, *, thread_ts: str | None = None
) -> list[Message | Ephemeral]:
    """Channel (or thread) messages plus the user's own ephemerals there, oldest first."""
    user_id = ws.user(user).id
    shown: list[Message | Ephemeral] = []
    shown += ws.thread(channel, thread_ts) if thread_ts else ws.messages(channel)
    shown += [e for e in ws.ephemerals(user_id, channel) if e.thread_ts == thread_ts]
    return sorted(shown, key=lambda m: ts_key(m.ts))


def render_screen(
    ws: Workspace,
    user: str,
    channel: str,
    *,
    thread_ts: str | None = None,
    last: int | None = None,
    tz: dt.tzinfo = dt.UTC,
) -> Rendered:
    """The last ``last`` items the user sees, with buttons numbered across the screen."""
    shown = visible_to(ws, user, channel, thread_ts=thread_ts)
    if last is not None:
        shown = shown[-last:] if last > 0 else []
    return render_conversation(shown, ws.names(), tz=tz)
