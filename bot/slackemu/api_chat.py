"""chat.* methods."""

from __future__ import annotations

from .api_context import CallContext, Handler
from .errors import SlackError
from .model import Blocks, Channel, JsonDict
from .params import Params
from .validation import MESSAGE_BLOCK_LIMIT, MESSAGE_TEXT_LIMIT, validate_blocks


def _content(p: Params, *, required: bool) -> tuple[str | None, Blocks | None]:
    text = p.optional("text")
    if text is None:
        text = p.optional("markdown_text")
    blocks = p.blocks()
    if required and not text and not blocks and not p.data.get("attachments"):
        raise SlackError("no_text", "text, blocks or attachments is required")
    if text is not None and len(text) > MESSAGE_TEXT_LIMIT:
        raise SlackError("msg_too_long", f"text is longer than {MESSAGE_TEXT_LIMIT} characters")
    if blocks is not None:
        problems = validate_blocks(blocks, limit=MESSAGE_BLOCK_LIMIT)
        if problems:
            raise SlackError("invalid_blocks", "; ".join(problems), extra={"errors": problems})
    return text, blocks


def _writable(ctx: CallContext, p: Params) -> Channel:
    return writable_channel(ctx, p.required("channel", error="channel_not_found"))


def writable_channel(ctx: CallContext, ref: str) -> Channel:
    """The channel (ID, ``#name`` or a user's DM) if the bot may post there, else SlackError."""
    channel = ctx.ws.directory.resolve_post_target(ref)
    if channel.is_archived:
        raise SlackError("is_archived", f"#{channel.name} is archived")
    if not channel.is_im and not channel.bot_is_member:
        raise SlackError("not_in_channel", f"the bot is not a member of #{channel.name}")
    return channel


def post_message(ctx: CallContext, p: Params) -> JsonDict:
    channel = _writable(ctx, p)
    text, blocks = _content(p, required=True)
    message = ctx.ws.post_message(
        channel.id,
        text or "",
        blocks,
        thread_ts=p.optional("thread_ts") or None,
        reply_broadcast=p.flag("reply_broadcast"),
        metadata=p.json_object("metadata"),
    )
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "message": message.to_api(ctx.ws.team_id),
    }


def update(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    ts = p.required("ts", error="message_not_found")
    current = ctx.ws.message(channel.id, ts)
    if current.user != ctx.ws.bot_user.id:
        raise SlackError("cant_update_message", "only the bot's own messages can be updated")
    text, blocks = _content(p, required=False)
    if text is None and blocks is None and not p.data.get("attachments"):
        raise SlackError("no_text", "text or blocks is required")
    message = ctx.ws.update_message(channel.id, ts, text=text, blocks=blocks)
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(ctx.ws.team_id),
    }


def delete(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    ts = p.required("ts", error="message_not_found")
    if ctx.ws.message(channel.id, ts).user != ctx.ws.bot_user.id:
        raise SlackError("cant_delete_message", "only the bot's own messages can be deleted")
    ctx.ws.delete_message(channel.id, ts)
    return {"ok": True, "channel": channel.id, "ts": ts}


def post_ephemeral(ctx: CallContext, p: Params) -> JsonDict:
    channel = _writable(ctx, p)
    user = ctx.ws.directory.user(p.required("user", error="user_not_found"))
    text, blocks = _content(p, required=True)
    ephemeral = ctx.ws.post_ephemeral(
        channel.id, user.id, text or "", blocks, thread_ts=p.optional("thread_ts") or None
    )
    return {"ok": True, "message_ts": ephemeral.ts}


def get_permalink(ctx: CallContext, p: Params) -> JsonDict:
    channel = ctx.ws.directory.channel(p.required("channel", error="channel_not_found"))
    message = ctx.ws.message(channel.id, p.required("message_ts", error="message_not_found"))
    link = f"https://{ctx.ws.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
