"""A small HTTP admin API beside the artifact store (plain http): state and fault switches.

GET /admin/state · GET /admin/faults ·
POST /admin/faults/app | version | arm | release-lro ·
POST /admin/faults/dependency {"name": "database", "down": true} (down on every app) ·
DELETE /admin/faults · GET /admin/arm-requests?limit=N ·
GET /admin/load · POST /admin/load {"rps": 5} (synthetic requests a second per front door) ·
GET /admin/alerting · POST /admin/alerting {"url": …, "token": …} (Alertmanager-shaped
webhooks on a 5xx share) · DELETE /admin/alerting
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from commands.platform.sandbox.alerting import AlertSender
from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.load import SyntheticLoad
from commands.platform.sandbox.recording import ArmLog


def _answer(status: int, body: Any) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body, indent=2), content_type="application/json"
    )


def _call(
    function: Callable[..., None], payload: dict[str, Any], positional: tuple[str, ...]
) -> None:
    """Call a ``Faults`` method with JSON fields, refusing unknown or missing ones by name."""
    accepted = set(inspect.signature(function).parameters)
    unknown = sorted(set(payload) - accepted)
    if unknown:
        raise SandboxError(
            f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(accepted))}"
        )
    missing = [name for name in positional[:1] if name not in payload]
    if missing:
        raise SandboxError(f"missing field: {missing[0]}")
    args = [payload.pop(name) for name in positional if name in payload]
    function(*args, **payload)


class AdminApi:
    def __init__(
        self,
        faults: Faults,
        state: Callable[[], dict[str, Any]],
        arm_log: ArmLog,
        load: SyntheticLoad,
        alerting: AlertSender,
    ) -> None:
        self._faults = faults
        self._state = state
        self._log = arm_log
        self._load = load
        self._alerting = alerting

    async def handle(self, request: web.BaseRequest) -> web.Response:
        path = request.path.rstrip("/").lower()
        method = request.method
        try:
            if path == "/admin/state" and method == "GET":
                return _answer(200, self._state())
            if path == "/admin/faults" and method == "GET":
                return _answer(200, self._faults.snapshot())
            if path == "/admin/faults" and method == "DELETE":
                self._faults.clear()
                return _answer(200, {"ok": True, "faults": self._faults.snapshot()})
            if path == "/admin/arm-requests" and method == "GET":
                return self._arm_requests(request)
            if path == "/admin/load" and method == "GET":
                return _answer(200, self._load.snapshot())
            if path == "/admin/load" and method == "POST":
                payload = await self._payload(request)
                _call(self._load.set_rate, payload, ("rps",))
                return _answer(200, {"ok": True, "load": self._load.snapshot()})
            if path == "/admin/alerting":
                return await self._alerts(request)
            if path == "/admin/faults/release-lro" and method == "POST":
                self._faults.release_lro()
                return _answer(200, {"ok": True})
            setters: dict[str, tuple[Callable[..., None], tuple[str, ...]]] = {
                "/admin/faults/app": (self._faults.app, ("app", "slot")),
                "/admin/faults/version": (self._faults.version, ("version",)),
                "/admin/faults/arm": (self._faults.arm, ("kind",)),
                "/admin/faults/dependency": (self._faults.dependency, ("name",)),
            }
            if path in setters:
                if method != "POST":
                    return _answer(405, {"error": f"use POST on {path}"})
                payload = await self._payload(request)
                function, positional = setters[path]
                _call(function, payload, positional)
                return _answer(200, {"ok": True, "faults": self._faults.snapshot()})
        except SandboxError as bad:
            return _answer(400, {"error": str(bad)})
        return _answer(404, {"error": f"no admin route {method} {request.path}"})

    async def _alerts(self, request: web.BaseRequest) -> web.Response:
        if request.method == "POST":
            _call(self._alerting.send_to, await self._payload(request), ("url", "token"))
        elif request.method == "DELETE":
            await self._alerting.stop_sending()
        elif request.method != "GET":
            return _answer(405, {"error": "use GET, POST or DELETE on /admin/alerting"})
        return _answer(200, {"ok": True, "alerting": self._alerting.snapshot()})

    @staticmethod
    async def _payload(request: web.BaseRequest) -> dict[str, Any]:
        try:
            payload = json.loads(await request.read() or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise SandboxError("the body must be a JSON object") from None
        if not isinstance(payload, dict):
            raise SandboxError("the body must be a JSON object")
        return payload

    def _arm_requests(self, request: web.BaseRequest) -> web.Response:
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            raise SandboxError("limit must be an integer") from None
        records = self._log.records[-max(limit, 0) :] if limit else []
        return _answer(
            200,
            [
                {
                    "method": r.method,
                    "path": r.path,
                    "api_version": r.api_version,
                    "status": r.status,
                    "at": r.at.isoformat(),
                }
                for r in records
            ],
        )
