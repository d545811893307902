"""auth.test, users.*, usergroups.* and conversations.* methods."""

from __future__ import annotations

from .api_context import CallContext, Handler
from .clock import ts_key
from .errors import SlackError
from .model import JsonDict, Message
from .params import Params, paginate


def auth_test(ctx: CallContext, p: Params) -> JsonDict:
    bot = ctx.ws.bot_user
    return {
        "ok": True,
        "url": f"https://{ctx.ws.domain}.slack.com/",
        "team": ctx.ws.team_name,
        "user": bot.name,
        "team_id": ctx.ws.team_id,
        "user_id": bot.id,
        "bot_id": bot.bot_id,
        "is_enterprise_install": False,
    }


def users_info(ctx: CallContext, p: Params) -> JsonDict:
    user = ctx.ws.directory.user(p.required("user", error="user_not_found"))
    return {"ok": True, "user": user.to_api(ctx.ws.team_id)}


def users_list(ctx: CallContext, p: Params) -> JsonDict:
    members, cursor = paginate(ctx.ws.directory.users, p, default_limit=1000)
    return {
        "ok": True,
        "members": [u.to_api(ctx.ws.team_id) for u in members],
        "cache_ts": int(ctx.ws.clock()),
        "response_metadata": {"next_cursor": cursor},
    }


def usergroups_list(ctx: CallContext, p: Params) -> JsonDict:
    include_users = p.flag("include_users")
    return {
        "ok": True,
        "usergroups": [
            g.to_api(ctx.ws.team_id, include_users=include_users)
            for g in ctx.ws.directory.usergroups
        ],
    }


def usergroups_users_list(ctx: CallContext, p: Params) -> JsonDict:
    group = ctx.ws.directory.usergroup(p.required("usergroup", error="no_such_subteam"))
    return {"ok": True, "users": list(group.users)}


def conversations_info(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    return {"ok": True, "channel": channel.to_api()}


def conversations_list(ctx: CallContext, p: Params) -> JsonDict:
    wanted = set((p.optional("types") or "public_channel").split(","))
    unknown = wanted - {"public_channel", "private_channel", "im", "mpim"}
    if unknown:
        raise SlackError("invalid_types", f"unknown types: {', '.join(sorted(unknown))}")
    exclude_archived = p.flag("exclude_archived")
    channels = [
        c
        for c in ctx.ws.directory.channels
        if c.api_type in wanted and not (exclude_archived and c.is_archived)
    ]
    page, cursor = paginate(channels, p, default_limit=100)
    return {
        "ok": True,
        "channels": [c.to_api() for c in page],
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_history(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    newest_first = list(reversed(ctx.ws.messages(channel.id)))
    shown = _in_range(newest_first, p)
    page, cursor = paginate(shown, p, default_limit=100)
    return {
        "ok": True,
        "messages": [m.to_api(ctx.ws.team_id) for m in page],
        "has_more": bool(cursor),
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def conversations_replies(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    ts = p.required("ts", error="thread_not_found")
    if ctx.ws.find_message(channel.id, ts) is None:
        raise SlackError("thread_not_found", f"no message {ts} in {channel.id}")
    page, cursor = paginate(ctx.ws.thread(channel.id, ts), p, default_limit=1000)
    return {
        "ok": True,
        "messages": [m.to_api(ctx.ws.team_id) for m in page],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


def _in_range(messages: list[Message], p: Params) -> list[Message]:
    oldest, latest = p.optional("oldest"), p.optional("latest")
    inclusive = p.flag("inclusive")
    try:
        low = ts_key(oldest) if oldest else None
        high = ts_key(latest) if latest else None
    except ValueError:
        raise SlackError("invalid_ts_latest" if latest else "invalid_ts_oldest") from None

    def keep(m: Message) -> bool:
        key = ts_key(m.ts)
        above = low is None or key > low or (inclusive and key == low)
        below = high is None or key < high or (inclusive and key == high)
        return above and below

    return [m for m in messages if keep(m)]


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.list": users_list,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
    "conversations.info": conversations_info,
    "conversations.list": conversations_list,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
