"""Socket Mode: the app opens a WebSocket and Slack sends envelopes over it instead of POSTs.

``apps.connections.open`` (app-level ``xapp-`` token) hands out a one-time
``ws://…/socket/<ticket>`` URL on the emulator's own server. Each connection is greeted with
``hello``; a slash command or interaction travels as an envelope that the app acks by
``envelope_id`` (optionally with a response payload) within Slack's 3 seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import WSCloseCode, WSMsgType, web

from .errors import UsageError, WaitTimeout
from .interactions import ResponseTarget
from .model import JsonDict
from .transport import Delivery, DeliveryKind, SendOptions

Ending = Literal["app_closed", "dropped", "emulator_closed"]
APP_TOKEN_PREFIX = "xapp-"
HOST = "slackemu"

# Slack's envelope type per kind, and whether it reads a payload from the ack.
ENVELOPE_TYPES: dict[DeliveryKind, tuple[str, bool]] = {
    "command": ("slash_commands", True),
    "block_actions": ("interactive", False),
    "view_submission": ("interactive", True),
}


@dataclass(frozen=True)
class EnvelopeAnswer:
    """The ack of one envelope (``ack`` is the app's whole message), or why none came."""

    envelope: JsonDict
    ack: JsonDict | None
    elapsed: float
    timed_out: bool = False
    error: str | None = None


class SocketMode:
    """The Socket Mode side of one emulated app: tickets, open connections, pending acks."""

    def __init__(self, app_token: str | None, *, app_id: str) -> None:
        if app_token is not None and not app_token.startswith(APP_TOKEN_PREFIX):
            raise UsageError(f"an app-level token starts with {APP_TOKEN_PREFIX!r}")
        self.app_token = app_token
        self.app_id = app_id
        self.opened = 0  # connections accepted so far
        self.envelopes: list[JsonDict] = []  # every envelope sent, in order
        self.stray: list[str] = []  # app messages that acked nothing pending
        self.endings: list[Ending] = []  # how each finished connection ended
        self._closing = False
        self._ids = itertools.count(1)
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._pending: dict[str, tuple[web.WebSocketResponse, asyncio.Future[JsonDict | None]]] = {}
        self._turn = 0
        self._changed = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.app_token is not None

    @property
    def connections(self) -> int:
        return len(self._sockets)

    # -- connecting ----------------------------------------------------------------------
    def connections_open(self, ws_base_url: str) -> JsonDict:
        """The body of ``apps.connections.open``: a URL good for one connection."""
        ticket = f"ticket-{next(self._ids)}"
        self._tickets.add(ticket)
        return {"ok": True, "url": f"{ws_base_url}socket/{ticket}"}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if ticket not in self._tickets:
            text = "unknown or used Socket Mode URL: call apps.connections.open for a new one"
            return web.Response(status=403, text=text)
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)  # autoping: answers the SDK's pings
        await ws.prepare(request)
        self._sockets.append(ws)
        self.opened += 1
        self._notify()
        ending: Ending = "dropped"
        try:
            await ws.send_json(self._hello())
            message = await ws.receive()
            while message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                if message.type == WSMsgType.TEXT:
                    self._on_text(str(message.data))
                message = await ws.receive()
            ending = "app_closed" if message.type == WSMsgType.CLOSE else "dropped"
        except ConnectionResetError:
            pass  # the app went away mid-message: "dropped"
        finally:
            self.endings.append("emulator_closed" if self._closing else ending)
            self._sockets.remove(ws)
            self._abandon(ws)
            self._notify()
        return ws

    def _hello(self) -> JsonDict:
        return {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": HOST, "build_number": 1, "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }

    async def wait_connected(
        self,
        *,
        opened: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
    ) -> None:
        """Until a connection is open and at least ``opened`` were accepted in all."""
        await self.wait_for(
            lambda hub: hub.connections > 0 and hub.opened >= opened,
            timeout=timeout,
            description=f"Socket Mode connection #{opened}",
        )

    async def wait_for(
        self,
        condition: Callable[[SocketMode], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
        description: str = "a Socket Mode condition",
    ) -> None:
        """Re-check ``condition`` whenever a connection opens or ends, up to ``timeout`` s."""
        try:
            async with asyncio.timeout(timeout):
                while not condition(self):
                    event = self._changed
                    await event.wait()
        except TimeoutError:
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {description} "
                f"({self.opened} accepted, {self.connections} open, endings {self.endings})"
            ) from None

    async def disconnect(self, reason: str = "refresh_requested") -> int:
        """Ask every connected app to reconnect, as Slack does; returns how many were told."""
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": HOST}}
        sockets = list(self._sockets)
        for ws in sockets:
            await ws.send_json(message)
        return len(sockets)

    async def close(self) -> None:
        self._closing = True
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator shutting down")

    # -- envelopes -----------------------------------------------------------------------
    async def send(
        self,
        envelope_type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool,
        timeout: float,  # noqa: ASYNC109 - Slack's ack deadline
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> EnvelopeAnswer:
        """Send one envelope to the next connection (round robin) and await its ack."""
        envelope: JsonDict = {
            "envelope_id": f"envelope-{next(self._ids)}",
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self.envelopes.append(envelope)
        started = time.perf_counter()

        def answer(ack: JsonDict | None = None, **extra: Any) -> EnvelopeAnswer:
            return EnvelopeAnswer(envelope, ack, time.perf_counter() - started, **extra)

        ws = self._next_socket()
        if ws is None:
            return answer(error="no app is connected in Socket Mode")
        future: asyncio.Future[JsonDict | None] = asyncio.get_running_loop().create_future()
        self._pending[envelope["envelope_id"]] = (ws, future)
        try:
            async with asyncio.timeout(timeout):
                await ws.send_str(json.dumps(envelope))
                ack = await future
        except TimeoutError:
            return answer(timed_out=True)
        except ConnectionResetError as exc:
            return answer(error=f"the Socket Mode connection failed: {exc}")
        finally:
            self._pending.pop(envelope["envelope_id"], None)
        if ack is None:
            return answer(error="the Socket Mode connection closed before the ack")
        return answer(ack)

    def _next_socket(self) -> web.WebSocketResponse | None:
        live = [ws for ws in self._sockets if not ws.closed]
        if not live:
            return None
        self._turn += 1
        return live[self._turn % len(live)]

    def _on_text(self, data: str) -> None:
        try:
            message: Any = json.loads(data)
        except ValueError:
            message = None
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        entry = self._pending.get(envelope_id) if isinstance(envelope_id, str) else None
        if entry is None or entry[1].done():
            self.stray.append(data)  # a late, duplicate or malformed ack: Slack ignores it
            return
        entry[1].set_result(message)

    def _abandon(self, ws: web.WebSocketResponse) -> None:
        for sent_on, future in self._pending.values():
            if sent_on is ws and not future.done():
                future.set_result(None)

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()


async def deliver_envelope(
    socket_mode: SocketMode,
    *,
    kind: DeliveryKind,
    payload: JsonDict,
    options: SendOptions,
    ack_timeout: float,
    response_url: str | None,
    trigger_id: str | None,
    target: ResponseTarget | None,
) -> Delivery:
    """What ``deliver`` does over HTTP, over the socket: status 200 once acked.

    The body is the ack's payload as JSON (empty for a bare ack), so callers treat it
    exactly like an HTTP response body.
    """
    if kind not in ENVELOPE_TYPES:
        raise UsageError(f"a {kind!r} request has no Socket Mode envelope; use HTTP delivery")
    if options.bad_signature or options.unsigned or options.timestamp is not None:
        raise UsageError("request signing does not apply in Socket Mode")
    envelope_type, accepts_payload = ENVELOPE_TYPES[kind]
    retry = options.retry_num is not None
    answer = await socket_mode.send(
        envelope_type,
        payload,
        accepts_response_payload=accepts_payload,
        timeout=ack_timeout,
        retry_attempt=options.retry_num,
        retry_reason=options.retry_reason if retry else None,
    )
    ack = answer.ack
    answered = ack.get("payload") if ack is not None else None
    body = answered if isinstance(answered, str) else json.dumps(answered) if answered else ""
    return Delivery(
        kind=kind,
        status=200 if ack is not None else None,
        body=body,
        headers={},
        elapsed=answer.elapsed,
        request_body=json.dumps(answer.envelope),
        request_headers={},
        payload=payload,
        response_url=response_url,
        trigger_id=trigger_id,
        timed_out=answer.timed_out,
        error=answer.error,
        target=target,
    )
