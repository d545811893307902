"""A Slack-compatible Web API in its own process, for the benchmarks.

    python benchmarks/_slack_api.py            # prints "slack api on http://127.0.0.1:PORT"

It answers what ``deploybot serve`` calls (auth.test, chat.*, conversations.history,
usergroups.users.list, views.open, the external file upload) and takes ``response_url`` posts
at ``/respond/<id>``, stamping each with the wall clock when it arrived: the load generator,
another process on the same machine, reads those stamps at ``GET /bench/responses`` and the
cards (with their buttons) at ``GET /bench/messages``. Kept small so that its own cost per
call stays far below the bot's.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from typing import Any

from aiohttp import web

TOKEN = "xoxb-bench"
TEAM = "T0BENCH"
CHANNELS = {"#deploys": "C0DEPLOYS", "#incidents": "C0INCIDENTS"}


class SlackApi:
    def __init__(self) -> None:
        self.messages: dict[str, dict[str, Any]] = {}
        self.responses: list[dict[str, Any]] = []
        self.calls: dict[str, int] = {}
        self._ts = itertools.count(1)

    def _stamp(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            args: dict[str, Any] = await request.json()
        else:
            args = {**request.query, **(await request.post())}
        self.calls[method] = self.calls.get(method, 0) + 1
        if request.headers.get("Authorization", "") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(self.answer(method, args, request))

    def answer(self, method: str, args: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": "U0BOT", "bot_id": "B0BOT"}
        if method == "chat.postMessage":
            channel = CHANNELS.get(str(args["channel"]), str(args["channel"]))
            ts = self._stamp()
            self.messages[ts] = {"channel": channel, "ts": ts, **_content(args)}
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            found = self.messages.get(str(args.get("ts")))
            if found is None:
                return {"ok": False, "error": "message_not_found"}
            found.update(_content(args))
            return {"ok": True, "channel": found["channel"], "ts": found["ts"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._stamp()}
        if method == "conversations.history":
            channel = str(args.get("channel"))
            found = [m for m in reversed(self.messages.values()) if m["channel"] == channel]
            listed = [{"type": "message", "user": "U0BOT", "ts": m["ts"]} for m in found]
            return {"ok": True, "messages": listed, "has_more": False}
        if method == "usergroups.users.list":
            return {"ok": True, "users": []}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1"}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{request.url.origin()}/up"}
        if method == "files.completeUploadExternal":
            files = json.loads(str(args.get("files") or "[]"))
            return {"ok": True, "files": [{"id": f.get("id"), "title": "chart"} for f in files]}
        return {"ok": False, "error": "unknown_method"}

    async def upload(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="OK")

    async def respond(self, request: web.Request) -> web.Response:
        at = time.time()
        payload = await request.json()
        self.responses.append({"id": request.match_info["id"], "at": at, "text": payload["text"]})
        return web.Response(text="ok")

    async def read_responses(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"next": len(self.responses), "items": self.responses[since:]})

    async def read_messages(self, _: web.Request) -> web.Response:
        return web.json_response({"messages": list(self.messages.values()), "calls": self.calls})


def _content(args: dict[str, Any]) -> dict[str, Any]:
    blocks = args.get("blocks") or []
    parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
    return {"text": str(args.get("text", "")), "blocks": parsed}


def app() -> web.Application:
    api = SlackApi()
    application = web.Application()
    application.router.add_post("/api/{method}", api.api)
    application.router.add_get("/api/{method}", api.api)
    application.router.add_post("/up", api.upload)
    application.router.add_post("/respond/{id}", api.respond)
    application.router.add_get("/bench/responses", api.read_responses)
    application.router.add_get("/bench/messages", api.read_messages)
    return application


def main(port: int) -> None:
    def started(_: object) -> None:
        print(f"slack api on http://127.0.0.1:{port}", flush=True)

    web.run_app(app(), host="127.0.0.1", port=port, access_log=None, print=started)


if __name__ == "__main__":
    main(int(sys.argv[1]))
