"""views.* methods."""

from __future__ import annotations

from .api_context import CallContext, Handler
from .errors import SlackError
from .model import JsonDict, View
from .params import Params
from .views import check_view


def _view_arg(p: Params) -> JsonDict:
    view = p.json_object("view")
    if view is None:
        raise SlackError("invalid_arguments", "view is required")
    return check_view(view)


def _answer(ctx: CallContext, view: View) -> JsonDict:
    ws = ctx.ws
    return {"ok": True, "view": view.to_api(ws.team_id, ws.app_id, ws.bot_user.bot_id or "")}


def views_open(ctx: CallContext, p: Params) -> JsonDict:
    payload = _view_arg(p)
    trigger = ctx.interactions.consume_trigger(p.required("trigger_id", error="invalid_trigger_id"))
    return _answer(ctx, ctx.ws.views.open(trigger.user, payload))


def views_push(ctx: CallContext, p: Params) -> JsonDict:
    payload = _view_arg(p)
    trigger = ctx.interactions.consume_trigger(p.required("trigger_id", error="invalid_trigger_id"))
    top = ctx.ws.views.top(trigger.user)
    if top is not None and len(ctx.ws.views.list(trigger.user)) >= 3:
        raise SlackError("push_limit_reached", "a modal stack holds at most three views")
    return _answer(ctx, ctx.ws.views.open(trigger.user, payload, previous=top))


def views_update(ctx: CallContext, p: Params) -> JsonDict:
    payload = _view_arg(p)
    view = ctx.ws.views.update(
        payload,
        view_id=p.optional("view_id"),
        external_id=p.optional("external_id"),
        hash=p.optional("hash"),
    )
    return _answer(ctx, view)


METHODS: dict[str, Handler] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
}
