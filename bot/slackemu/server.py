"""The emulator's loopback HTTP server: the Web API under ``/api/`` and response_urls.

``AsyncWebClient(token, base_url=emu.api_url)`` talks to it exactly as to slack.com.
"""

from __future__ import annotations

import collections
import json
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from aiohttp import web

from . import api_chat, api_directory, api_files, api_views
from .api_context import CallContext, Handler
from .clock import Clock, system_clock
from .errors import SlackError, UsageError
from .files import UploadRejected
from .interactions import Interactions, ResponseTarget
from .model import ApiCall, JsonDict, ResponsePost
from .params import Params, parse_body
from .response_url import post_to_response_url
from .socket_mode import SocketMode
from .workspace import Workspace

if TYPE_CHECKING:
    from .actor import SlackUserAgent

log = logging.getLogger(__name__)

APP_LEVEL_METHODS = frozenset({"apps.connections.open"})  # called with the xapp- token


def method_table() -> dict[str, Handler]:
    return {**api_chat.METHODS, **api_directory.METHODS, **api_files.METHODS, **api_views.METHODS}


@dataclass(frozen=True)
class _Fault:
    error: str
    retry_after: int | None = None  # set: answer 429 "ratelimited"


class SlackEmulator:
    """A running emulated Slack: ``async with SlackEmulator.start(ws, bot_token=...) as emu``."""

    def __init__(
        self,
        workspace: Workspace,
        *,
        bot_token: str = "xoxb-emulator-token",
        signing_secret: str = "emulator-signing-secret",
        request_url: str | None = None,
        verification_token: str = "emulator-verification-token",
        app_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if not bot_token:
            raise UsageError("bot_token must not be empty")
        self.workspace = workspace
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.request_url = request_url
        self.verification_token = verification_token
        self.interactions = Interactions(workspace.clock)
        self.socket_mode = SocketMode(app_token, app_id=workspace.app_id)
        self._host = host
        self._port = port
        self._methods = method_table()
        self._methods["apps.connections.open"] = self._connections_open
        self._faults: dict[str, collections.deque[_Fault]] = collections.defaultdict(
            collections.deque
        )
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base_url: str | None = None
        self._seq = 0

    @classmethod
    def start(
        cls,
        workspace: Workspace,
        *,
        bot_token: str = "xoxb-emulator-token",
        signing_secret: str = "emulator-signing-secret",
        request_url: str | None = None,
        app_token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> SlackEmulator:
        """``async with SlackEmulator.start(ws, bot_token=...) as emu``: serves inside the block.

        With ``app_token`` ("xapp-…") the app may connect in Socket Mode; users' requests then
        travel over its socket whenever no request URL is set.
        """
        return cls(
            workspace,
            bot_token=bot_token,
            signing_secret=signing_secret,
            request_url=request_url,
            app_token=app_token,
            host=host,
            port=port,
        )

    async def __aenter__(self) -> SlackEmulator:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if self._runner is not None:
            raise UsageError("the emulator is already running")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{target:.+}", self._response_url)
        app.router.add_get("/socket/{ticket}", self.socket_mode.handle)
        app.router.add_post(f"/{api_files.UPLOAD_PATH}{{file_id}}", self._upload)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}/"
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        session, self._session = self._session, None
        runner, self._runner = self._runner, None
        if session is not None:
            await session.close()
        if runner is not None:
            await self.socket_mode.close()
            await runner.cleanup()

    # -- what callers use ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise UsageError("the emulator is not running (use `async with`)")
        return self._base_url

    @property
    def api_url(self) -> str:
        """For ``AsyncWebClient(base_url=...)``: ends with a slash, like https://slack.com/api/."""
        return self.base_url + "api/"

    @property
    def ws_url(self) -> str:
        """The same server as ``base_url``, for WebSocket (Socket Mode) connections."""
        return "ws://" + self.base_url.removeprefix("http://")

    @property
    def delivery_mode(self) -> Literal["http", "socket"] | None:
        """How users' requests reach the app: its Request URL first, else Socket Mode."""
        if self.request_url:
            return "http"
        return "socket" if self.socket_mode.enabled else None

    @property
    def http(self) -> aiohttp.ClientSession:
        """The session user agents send requests to the app with."""
        if self._session is None:
            raise UsageError("the emulator is not running (use `async with`)")
        return self._session

    def connect_app(self, request_url: str, *, signing_secret: str | None = None) -> None:
        """Where Slack sends commands and interactions (the app's Request URL)."""
        self.request_url = request_url
        if signing_secret is not None:
            self.signing_secret = signing_secret

    def user(
        self, ref: str, *, clock: Clock = system_clock, ack_timeout: float = 3.0
    ) -> SlackUserAgent:
        """A person in the workspace who can type commands and click (see SlackUserAgent)."""
        from .actor import SlackUserAgent

        return SlackUserAgent(self, ref, clock=clock, ack_timeout=ack_timeout)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` ("*" = any) answer 429 with Retry-After."""
        self._add_fault(method, times, _Fault("ratelimited", max(0, int(retry_after))))

    def fail_next(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """The next ``times`` calls of ``method`` ("*" = any) answer ``{"ok": false, error}``."""
        self._add_fault(method, times, _Fault(error))

    def response_url(self, target: ResponseTarget) -> str:
        return f"{self.base_url}response/{target.id}"

    def _add_fault(self, method: str, times: int, fault: _Fault) -> None:
        if method != "*" and method not in self._methods:
            raise UsageError(f"{method!r} is not a method the emulator implements")
        if times < 1:
            raise UsageError("times must be at least 1")
        self._faults[method].extend([fault] * times)

    def _take_fault(self, method: str) -> _Fault | None:
        for key in (method, "*"):
            if self._faults[key]:
                return self._faults[key].popleft()
        return None

    def _connections_open(self, context: CallContext, params: Params) -> JsonDict:
        return self.socket_mode.connections_open(self.ws_url)

    # -- HTTP handlers -------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        data: JsonDict = dict(request.query)
        try:
            if request.content_type.startswith("multipart/"):
                data.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            else:
                data.update(parse_body(request.content_type, await request.read()))
        except SlackError as exc:
            return self._answer(method, data, {"ok": False, "error": exc.code})
        handler = self._methods.get(method)
        if handler is None:
            return self._answer(
                method, data, {"ok": False, "error": "unknown_method", "req_method": method}
            )
        auth_error = self._auth_error(request, data, method)
        if auth_error:
            return self._answer(method, data, {"ok": False, "error": auth_error})
        fault = self._take_fault(method)
        if fault is not None and fault.retry_after is not None:
            body = {"ok": False, "error": "ratelimited"}
            return self._answer(method, data, body, status=429, retry_after=fault.retry_after)
        if fault is not None:
            return self._answer(method, data, {"ok": False, "error": fault.error})
        try:
            context = CallContext(self.workspace, self.interactions, self.base_url)
            result = handler(context, Params(data))
        except SlackError as exc:
            result = {"ok": False, "error": exc.code, **exc.extra}
            if exc.detail:
                result.setdefault("detail", exc.detail)
        except Exception:  # an emulator bug: say so loudly, as Slack's own 500s do
            log.exception("slack emulator: %s failed", method)
            return self._answer(method, data, {"ok": False, "error": "internal_error"}, status=500)
        return self._answer(method, data, result)

    def _auth_error(self, request: web.Request, data: JsonDict, method: str) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        app_level = method in APP_LEVEL_METHODS  # its token only counts in the header
        if not token and not app_level:  # Slack ignores a token inside a JSON body
            json_body = request.content_type.startswith("application/json")
            token = str((request.query if json_body else data).get("token") or "")
        expected: str | None = self.bot_token
        other = self.socket_mode.app_token
        if app_level:
            expected, other = other, expected
        if not token:
            return "not_authed"
        if token == expected:
            return None
        return "not_allowed_token_type" if token == other else "invalid_auth"

    def _answer(
        self,
        method: str,
        params: JsonDict,
        body: JsonDict,
        *,
        status: int = 200,
        retry_after: int | None = None,
    ) -> web.Response:
        self._seq += 1
        logged = {k: v for k, v in params.items() if k != "token"}
        self.workspace.record_call(
            ApiCall(
                seq=self._seq,
                method=method,
                params=logged,
                status=status,
                ok=bool(body.get("ok")),
                error=None if body.get("ok") else str(body.get("error")),
                at=self.workspace.clock(),
                response=body,
            )
        )
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return web.json_response(body, status=status, headers=headers)

    async def _upload(self, request: web.Request) -> web.Response:
        """An upload URL from files.getUploadURLExternal: the file's bytes, raw or multipart."""
        try:
            content = await _uploaded_bytes(request)
            file = self.workspace.files.receive(request.match_info["file_id"], content)
        except UploadRejected as exc:
            return web.Response(status=exc.status, text=exc.reason)
        return web.Response(text=f"OK - {file.length}")

    async def _response_url(self, request: web.Request) -> web.Response:
        target_id = request.match_info["target"]
        target = self.interactions.target(target_id)
        raw = await request.read()
        try:
            payload: Any = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            payload = None
        if target is None:
            status, result = 404, "no_service"
        else:
            status, result = post_to_response_url(self.workspace, target, payload)
        self.workspace.response_posts.append(
            ResponsePost(
                target_id,
                payload if isinstance(payload, dict) else {},
                status,
                result,
                self.workspace.clock(),
            )
        )
        self.workspace.feed.notify()
        return web.Response(status=status, text=result)


async def _uploaded_bytes(request: web.Request) -> bytes:
    """The body as sent, or the first file part of a multipart form (``-F file=@chart.png``)."""
    if not request.content_type.startswith("multipart/"):
        return await request.read()
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, aiohttp.BodyPartReader) and part.filename is not None:
            return bytes(await part.read(decode=True))
    raise UploadRejected(400, "the multipart form has no file part")
