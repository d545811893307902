"""files.* methods: the external upload flow (see files.py) and files.info."""

from __future__ import annotations

from .api_chat import writable_channel
from .api_context import CallContext, Handler
from .errors import SlackError
from .model import File, JsonDict
from .params import Params, missing

UPLOAD_PATH = "upload/v1/"


def get_upload_url_external(ctx: CallContext, p: Params) -> JsonDict:
    filename = p.required("filename")
    length = p.required("length")
    try:
        size = int(length)
    except ValueError:
        raise SlackError("invalid_arguments", "length must be an integer") from None
    file = ctx.ws.files.reserve(filename, size, ctx.ws.bot_user.id, p.optional("alt_txt"))
    return {"ok": True, "upload_url": f"{ctx.base_url}{UPLOAD_PATH}{file.id}", "file_id": file.id}


def complete_upload_external(ctx: CallContext, p: Params) -> JsonDict:
    items = p.json_array("files")
    if not items:
        raise missing("files")
    wanted: list[tuple[str, str | None]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise SlackError("invalid_arguments", "each of files needs an id")
        title = item.get("title")
        wanted.append((item["id"], title if isinstance(title, str) else None))
    if len({file_id for file_id, _ in wanted}) != len(wanted):
        raise SlackError("invalid_arguments", "a file id is listed twice")
    for file_id, _ in wanted:
        ctx.ws.files.completable(file_id)  # every check before anything changes
    targets = _targets(ctx, p)
    thread_ts = p.optional("thread_ts") or None
    if thread_ts is not None:
        if len(targets) != 1:
            raise SlackError("invalid_arguments", "thread_ts needs exactly one channel")
        if ctx.ws.find_message(targets[0], thread_ts) is None:
            raise SlackError("thread_not_found", f"no message {thread_ts} in {targets[0]}")
    files = [ctx.ws.files.complete(file_id, title) for file_id, title in wanted]
    text = p.optional("initial_comment") or ""
    for channel in targets:
        ctx.ws.share_files(channel, files, text=text, thread_ts=thread_ts)
    return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in files]}


def files_info(ctx: CallContext, p: Params) -> JsonDict:
    file = ctx.ws.files.get(p.required("file", error="file_not_found"))
    if not file.completed:
        raise SlackError("file_not_found", f"file {file.id} was never completed")
    return {"ok": True, "file": _with_shares(ctx, file)}


def _targets(ctx: CallContext, p: Params) -> list[str]:
    refs = [p.optional("channel_id") or "", *(p.optional("channels") or "").split(",")]
    ids = [writable_channel(ctx, ref.strip()).id for ref in refs if ref.strip()]
    return list(dict.fromkeys(ids))


def _with_shares(ctx: CallContext, file: File) -> JsonDict:
    data = file.to_api(ctx.ws.team_id)
    shares: dict[str, dict[str, list[JsonDict]]] = {"public": {}, "private": {}}
    for channel, ts in file.shares:
        found = ctx.ws.directory.channel(channel)
        kind = "private" if found.is_private or found.is_im else "public"
        shares[kind].setdefault(channel, []).append({"ts": ts})
    data["shares"] = {kind: found for kind, found in shares.items() if found}
    data["is_public"] = bool(shares["public"])
    return data


METHODS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url_external,
    "files.completeUploadExternal": complete_upload_external,
    "files.info": files_info,
}
