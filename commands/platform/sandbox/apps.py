"""The app fleet: one real HTTP server per Web App and slot, run as its version and faults say."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.health import Condition, condition
from commands.platform.sandbox.listeners import Listener
from commands.platform.sandbox.metrics import MetricStore
from commands.platform.sandbox.prometheus import CONTENT_TYPE
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.world import World

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
QUEUES = (
    {"id": "front-desk", "name": "Front desk", "waiting": 4, "averageWaitSeconds": 180},
    {"id": "pharmacy", "name": "Pharmacy", "waiting": 2, "averageWaitSeconds": 95},
    {"id": "returns", "name": "Returns", "waiting": 0, "averageWaitSeconds": 0},
)
STOPPED_PAGE = "<html><body><h1>Error 403 - This web app is stopped.</h1></body></html>"


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _status(ok: bool) -> str:
    return "Healthy" if ok else "Unhealthy"


def _is_api(request: web.BaseRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


class AppFleet:
    def __init__(
        self,
        world: World,
        faults: Faults,
        store: MetricStore,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self._world = world
        self._faults = faults
        self._store = store
        self._clock = clock
        self._rng = rng
        self._listeners: dict[tuple[str, str | None], Listener] = {}

    async def start(self) -> None:
        units = list(self._world.units())
        for unit in units:
            self._listeners[unit.key] = Listener(self._handler(unit))
        await asyncio.gather(*(self._listeners[u.key].start() for u in units))

    async def aclose(self) -> None:
        await asyncio.gather(*(listener.close() for listener in self._listeners.values()))

    def url(self, unit: Unit) -> str:
        return self._listeners[unit.key].url

    def set_down(self, unit: Unit, down: bool) -> None:
        listener = self._listeners.get(unit.key)
        if listener is not None:
            if down:
                listener.suspend()
            else:
                listener.resume()

    def _handler(self, unit: Unit) -> Callable[[web.BaseRequest], Any]:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            return await self._serve(unit, request)

        return handle

    async def _serve(self, unit: Unit, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        process = unit.process
        response, by_app = await self._respond(unit, request)
        duration = time.perf_counter() - started
        response.headers.update(SECURITY_HEADERS)
        response.headers["X-Served-By"] = unit.label
        response.headers["X-App-Version"] = process.version
        status = response.status
        unit.served.update(("total", f"{status // 100}xx", str(status)))
        if request.path == "/metrics":  # scrapes are not traffic, for the app nor for Monitor:
            return response  # all three metric sources count the same requests
        if by_app:
            process.counters.observe(status, duration)
        self._store.record(unit.resource_id, self._clock(), status, duration)
        return response

    async def _respond(self, unit: Unit, request: web.BaseRequest) -> tuple[web.Response, bool]:
        """The response, and whether the app process itself produced it."""
        state = condition(unit, self._faults, self._clock())
        if state is Condition.STOPPED:
            return web.Response(status=403, text=STOPPED_PAGE, content_type="text/html"), False
        if state is Condition.DOWN:  # a keep-alive connection opened before the app went down
            return _json(503, {"error": "the app is down"}), False
        if state is Condition.STARTING:
            return _json(503, {"status": "Starting", "version": unit.process.version}), False
        if state is Condition.NO_PACKAGE:
            message = "the package in WEBSITE_RUN_FROM_PACKAGE could not be downloaded"
            return _json(503, {"error": message, "version": unit.process.version}), False
        app_fault = self._faults.for_unit(unit)
        version_fault = self._faults.for_version(unit.process.version)
        drop = version_fault.drop_rate
        if drop and _is_api(request) and self._rng.random() < drop:
            return _json(502, {"error": "the worker crashed before answering"}), False
        latency_ms = app_fault.latency_ms + version_fault.latency_ms
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        error_rate = 1 - (1 - app_fault.error_rate) * (1 - version_fault.error_rate)
        database = not (version_fault.unhealthy or self._faults.dependency_down("database"))
        redis = not self._faults.dependency_down("redis")
        return self._route(
            unit,
            request,
            healthy=state is Condition.HEALTHY,
            database=database,
            redis=redis,
            error_rate=error_rate,
        ), True

    def _route(
        self,
        unit: Unit,
        request: web.BaseRequest,
        *,
        healthy: bool,
        database: bool,
        redis: bool,
        error_rate: float,
    ) -> web.Response:
        path = request.path.rstrip("/") or "/"
        version = unit.process.version
        status = "Healthy" if healthy else "Unhealthy"
        code = 200 if healthy else 503
        if _is_api(request):
            if not database:
                return _json(503, {"error": "the database is unavailable"})
            if not redis:
                return _json(503, {"error": "the cache is unavailable"})
            if error_rate and self._rng.random() < error_rate:
                return _json(500, {"error": "internal server error"})
            return self._api(path, request, version)
        if request.method not in ("GET", "HEAD"):
            return _json(405, {"error": f"{request.method} is not allowed on {path}"})
        if path == "/":
            return _json(
                200, {"service": "Virtual Queue API", "instance": unit.label, "version": version}
            )
        if path == "/health":
            checks = {"database": _status(database), "redis": _status(redis)}
            return _json(code, {"status": status, "version": version, "checks": checks})
        if path == "/health/ready":
            return _json(code, {"status": "Ready" if healthy else "NotReady", "version": version})
        if path == "/health/live":
            return _json(200, {"status": "Alive", "version": version})
        if path == "/health/database":
            return _json(
                200 if database else 503, {"status": _status(database), "component": "database"}
            )
        if path == "/health/redis":
            return _json(200 if redis else 503, {"status": _status(redis), "component": "redis"})
        if path == "/metrics":
            text = unit.process.counters.exposition(
                version=version,
                instance=unit.label,
                started_at_s=unit.process.started_at.timestamp(),
            )
            return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})
        return _json(404, {"error": f"no route for {path}"})

    @staticmethod
    def _api(path: str, request: web.BaseRequest, version: str) -> web.Response:
        if path == "/api/queues":
            if request.method == "POST":
                return _json(201, {"id": "new-queue", "version": version})
            return _json(200, {"queues": list(QUEUES), "version": version})
        if path.startswith("/api/queues/"):
            wanted = path.rsplit("/", 1)[-1]
            for queue in QUEUES:
                if queue["id"] == wanted:
                    return _json(200, {**queue, "version": version})
        return _json(404, {"error": f"no route for {path}"})
