"""A minimal Slack-compatible Web API, written for these tests and nothing else.

It is deliberately not ``bot.slackemu``: it stores exactly what a real Slack would receive
(every Web API call, every ``response_url`` post) so the tests see the bot from outside, and
it signs requests to the bot as Slack does. Socket Mode is a websocket at ``/link``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import WSMsgType, web

CHANNELS = {"#deploys": "C0DEPLOYS", "#incidents": "C0INCIDENTS"}
TEAM = "T0DEPLOYBOT"


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    edits: int = 0
    files: list[str] = field(default_factory=list)
    """Ids of the files this message shares (files.completeUploadExternal)."""

    def buttons(self) -> dict[str, dict[str, Any]]:
        """Every button on the message, by its label."""
        found = {}
        for block in self.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if element.get("type") == "button":
                    found[element["text"]["text"]] = element
        return found

    def plain(self) -> str:
        return json.dumps(self.blocks, ensure_ascii=False) + self.text


@dataclass
class FakeFile:
    """A file of the external upload flow: reserved, then its bytes, then completed."""

    id: str
    name: str
    length: int
    title: str = ""
    content: bytes | None = None
    completed: bool = False


@dataclass
class FakeSlack:
    url: str = ""
    signing_secret: str = "s3cret-signing"
    bot_token: str = "xoxb-fake"
    app_token: str = "xapp-1-fake"
    bot_url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[str, Message] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, FakeFile] = field(default_factory=dict)
    #: The client address of every Web API call, in order: one per connection it came over.
    peers: list[tuple[str, int]] = field(default_factory=list)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- what the bot calls ------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            args: dict[str, Any] = await request.json()
        else:
            args = dict(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.calls.append((method, args))
        self.peers.append(
            request.transport.get_extra_info("peername") if request.transport else ("", 0)
        )
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = self._answer(method, args)
        async with self.changed:
            self.changed.notify_all()
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "team": "fake",
                "user": "deploybot",
                "team_id": TEAM,
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "chat.postMessage":
            channel = CHANNELS.get(str(args["channel"]), str(args["channel"]))
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages[ts] = Message(
                channel, ts, str(args.get("text", "")), _blocks(args), args.get("thread_ts")
            )
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.update":
            found = self.messages.get(str(args["ts"]))
            if found is None or found.channel != args["channel"]:
                return {"ok": False, "error": "message_not_found"}
            found.text, found.blocks = str(args.get("text", "")), _blocks(args)
            found.edits += 1
            return {"ok": True, "channel": found.channel, "ts": found.ts}
        if method == "chat.postEphemeral":
            self.ephemerals.append(args)
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        if method == "usergroups.users.list":
            return {"ok": True, "users": []}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1"}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http", "ws", 1) + "/link"}
        if method == "conversations.history":
            return self._history(args)
        if method == "chat.getPermalink":
            return self._permalink(args)
        return {"ok": False, "error": "unknown_method"}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """Slack's message link: the channel, then the ts without its dot, after a "p"."""
        found = self.messages.get(str(args.get("message_ts", "")))
        if found is None or found.channel != args.get("channel"):
            return {"ok": False, "error": "message_not_found"}
        link = f"{self.url}/archives/{found.channel}/p{found.ts.replace('.', '')}"
        return {"ok": True, "channel": found.channel, "permalink": link}

    def by_permalink(self, link: str) -> Message | None:
        """The message a permalink this Slack handed out points at."""
        channel, _, tail = link.removeprefix(f"{self.url}/archives/").partition("/p")
        ts = f"{tail[:-6]}.{tail[-6:]}" if len(tail) > 6 else ""
        found = self.messages.get(ts)
        return found if found is not None and found.channel == channel else None

    async def _api_get(self, request: web.Request) -> web.Response:
        """The read methods slack-sdk sends as GET (conversations.history): query arguments."""
        method, args = request.match_info["method"], dict(request.query)
        self.calls.append((method, args))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") != self.bot_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(self._answer(method, args))

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.history by channel ID, newest first, in one page; the bot is the
        author of every message here (user U0BOT, as auth.test says)."""
        channel = str(args["channel"])
        found = [m for m in reversed(self.messages.values()) if m.channel == channel]
        if not found and channel not in CHANNELS.values():
            return {"ok": False, "error": "channel_not_found"}
        messages = [
            {"type": "message", "user": "U0BOT", "bot_id": "B0BOT", "ts": m.ts, "text": m.text}
            for m in found
        ]
        return {"ok": True, "messages": messages, "has_more": False}

    async def _files_api(self, request: web.Request) -> web.Response:
        """files.* as slack-sdk's files_upload_v2 sends them: arguments in the query string."""
        method = "files." + request.match_info["step"]
        args: dict[str, Any] = {**request.query, **(await request.post())}
        self.calls.append((method, args))
        if request.headers.get("Authorization", "").removeprefix("Bearer ") != self.bot_token:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        answer = self._files_answer(method, args)
        async with self.changed:
            self.changed.notify_all()
        return web.json_response(answer)

    def _files_answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "files.getUploadURLExternal":
            length = str(args.get("length", ""))
            if not args.get("filename") or not length.isdigit() or int(length) < 1:
                return {"ok": False, "error": "invalid_arguments"}
            file = FakeFile(f"F{next(self._ts):08d}", str(args["filename"]), int(length))
            self.files[file.id] = file
            return {"ok": True, "file_id": file.id, "upload_url": f"{self.url}/upload/{file.id}"}
        if method == "files.completeUploadExternal":
            wanted = json.loads(str(args.get("files") or "[]"))
            found = [self.files.get(str(item.get("id"))) for item in wanted]
            done = [f for f in found if f is not None and f.content is not None and not f.completed]
            if not wanted or len(done) != len(wanted):
                return {"ok": False, "error": "file_not_found"}
            for file, item in zip(done, wanted, strict=True):
                file.completed, file.title = True, str(item.get("title") or file.name)
            channel = args.get("channel_id")
            if channel:
                ts = f"{int(time.time())}.{next(self._ts):06d}"
                text = str(args.get("initial_comment") or "")
                self.messages[ts] = Message(
                    str(channel), ts, text, [], args.get("thread_ts") or None,
                    files=[f.id for f in done],
                )  # fmt: skip
            return {"ok": True, "files": [{"id": f.id, "title": f.title} for f in done]}
        if method == "files.info":
            file = self.files.get(str(args.get("file")))
            if file is None or not file.completed:
                return {"ok": False, "error": "file_not_found"}
            return {"ok": True, "file": {"id": file.id, "name": file.name, "size": file.length}}
        return {"ok": False, "error": "unknown_method"}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL files.getUploadURLExternal hands out: the file's bytes, POSTed raw."""
        file = self.files.get(request.match_info["file_id"])
        content = await request.read()
        if file is None or file.content is not None:
            return web.Response(status=404, text="no upload waiting here")
        if len(content) != file.length:
            return web.Response(status=400, text=f"{len(content)} bytes, not {file.length}")
        file.content = content
        async with self.changed:
            self.changed.notify_all()
        return web.Response(text=f"OK - {len(content)}")

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        async with self.changed:
            self.changed.notify_all()
        return web.Response(text="ok")

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1})
        self.sockets.append(socket)
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                reply = json.loads(frame.data)
                waiter = self.acks.pop(str(reply.get("envelope_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(reply)
        return socket

    # -- what people do ----------------------------------------------------------------------
    def command_form(self, user: str, command: str, text: str, channel: str) -> dict[str, str]:
        return {
            "command": command,
            "text": text,
            "user_id": user,
            "user_name": user.lower(),
            "channel_id": CHANNELS.get(channel, channel),
            "team_id": TEAM,
            "trigger_id": f"{time.time()}.trigger",
            "response_url": f"{self.url}/respond",
        }

    async def command(self, user: str, line: str, channel: str = "#deploys") -> int:
        """A signed slash command POSTed to the bot, as Slack sends it; returns the status."""
        command, _, text = line.partition(" ")
        return await self.post(urlencode(self.command_form(user, command, text, channel)))

    async def click(self, user: str, message: Message, label: str) -> int:
        button = message.buttons()[label]
        payload = self.click_payload(user, message, button)
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def click_button(self, user: str, button: dict[str, Any]) -> int:
        """A click on a button of an ephemeral answer (it has no message in a channel)."""
        payload = self.click_payload(user, None, button)
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    def click_payload(
        self, user: str, message: Message | None, button: dict[str, Any]
    ) -> dict[str, Any]:
        container = (
            {"type": "message", "message_ts": message.ts, "channel_id": message.channel}
            if message
            else {
                "type": "message",
                "message_ts": "1.1",
                "channel_id": "C0DEPLOYS",
                "is_ephemeral": True,
            }
        )
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0DEPLOYBOT",
            "team": {"id": TEAM, "domain": "fake"},
            "container": container,
            "channel": {"id": container["channel_id"]},
            "trigger_id": f"{time.time()}.trigger",
            "response_url": f"{self.url}/respond",
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "type": "button",
                    "value": button.get("value", ""),
                    "action_ts": str(time.time()),
                }
            ],
        }

    async def post(self, body: str) -> int:
        raw = body.encode()
        stamp = str(int(time.time()))
        base = f"v0:{stamp}:".encode() + raw
        signature = "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        headers = {
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{self.bot_url}/slack/events", content=raw, headers=headers)
        return answer.status_code

    def signed_headers(self, raw: bytes, stamp: str | None = None) -> dict[str, str]:
        """The two headers Slack signs ``raw`` with (the timestamp defaults to now)."""
        stamp = stamp if stamp is not None else str(int(time.time()))
        base = f"v0:{stamp}:".encode() + raw
        signature = "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post_raw(
        self,
        raw: bytes,
        headers: list[tuple[str, str | bytes]],
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """``raw`` to /slack/events with exactly ``headers`` (repeats and non-ASCII allowed:
        str values go as UTF-8), signed or not as the caller chose; ``http`` lets a caller
        reuse one client."""
        encoded = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers]
        async with contextlib.AsyncExitStack() as stack:
            if http is None:
                http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
            return await http.post(f"{self.bot_url}/slack/events", content=raw, headers=encoded)

    async def envelope(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one Socket Mode envelope to the connected bot and wait for its ack."""
        envelope_id = f"env-{next(self._ts)}"
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.acks[envelope_id] = waiter
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
            }
        )
        return await asyncio.wait_for(waiter, timeout=10)

    # -- what the tests read -----------------------------------------------------------------
    async def wait_for(self, what: Callable[[], Any], timeout: float = 30.0) -> Any:  # noqa: ASYNC109
        """Wait until ``what()`` returns something truthy; returns it."""

        async def until() -> Any:
            async with self.changed:
                while not (found := what()):
                    await self.changed.wait()
                return found

        try:
            return await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout}s; calls: {self.summary()}") from None

    async def poll(self, what: Callable[[], Any], timeout: float = 60.0) -> Any:  # noqa: ASYNC109
        """Like ``wait_for`` for conditions that change without a Slack call."""
        deadline = time.monotonic() + timeout
        while not (found := what()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s; calls: {self.summary()}")
            await asyncio.sleep(0.1)
        return found

    def card(self, text: str) -> Message | None:
        """The newest root message whose content mentions ``text``."""
        roots = [m for m in self.messages.values() if m.thread_ts is None and text in m.plain()]
        return roots[-1] if roots else None

    def thread(self, card: Message) -> list[Message]:
        return [m for m in self.messages.values() if m.thread_ts == card.ts]

    def files_in(self, card: Message) -> list[FakeFile]:
        """The files shared in the card's thread, oldest first."""
        return [self.files[file_id] for m in self.thread(card) for file_id in m.files]

    def ephemeral_to(self, user: str, text: str) -> dict[str, Any] | None:
        for answer in [*self.responses, *self.ephemerals]:
            if text in json.dumps(answer, ensure_ascii=False) and (
                answer.get("user", user) == user
            ):
                return answer
        return None

    def response(self, text: str) -> dict[str, Any] | None:
        found = [r for r in self.responses if text in json.dumps(r, ensure_ascii=False)]
        return found[-1] if found else None

    def summary(self) -> str:
        methods = [name for name, _ in self.calls[-15:]]
        replies = [str(r.get("text", ""))[:80] for r in self.responses[-5:]]
        cards = [m.text[:80] for m in self.messages.values() if m.thread_ts is None][-3:]
        return f"{methods}; responses {replies}; cards {cards}"


def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = args.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


@contextlib.asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/files.{step}", slack._files_api)  # before /api/{method}: first match
    app.router.add_post("/upload/{file_id}", slack._upload)
    app.router.add_post("/api/{method}", slack._api)
    app.router.add_get("/api/{method}", slack._api_get)
    app.router.add_post("/respond", slack._respond)
    app.router.add_get("/link", slack._link)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    slack.url = f"http://127.0.0.1:{port}"
    try:
        yield slack
    finally:
        for socket in slack.sockets:
            await socket.close()
        await runner.cleanup()
