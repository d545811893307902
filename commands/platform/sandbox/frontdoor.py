"""Front doors: one public entry per Traffic Manager profile and per Web App with slots.

Each real request is forwarded to a backend picked like the platform would: by the weights of
the enabled (healthy first) Traffic Manager endpoints, or by production's ``rampUpRules``
(``reroutePercentage`` of requests go to the rule's slot). ``?x-ms-routing-name=green`` pins a
request to a slot (``self`` = production), as App Service allows.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.listeners import Listener
from commands.platform.sandbox.resources import Site, Unit
from commands.platform.sandbox.traffic import choose_endpoint, endpoint_unit
from commands.platform.sandbox.world import World

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
NOT_COPIED_BACK = HOP_BY_HOP | {"content-encoding", "date", "server"}


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def ramp_up_choice(site: Site, rng: random.Random, pinned: str | None = None) -> Unit:
    if pinned:
        return site.production if pinned.lower() == "self" else site.unit(pinned) or site.production
    rules = site.production.config.get("experiments", {}).get("rampUpRules") or []
    roll = rng.random() * 100
    for rule in rules:
        target = _rule_target(site, rule)
        if target is None:
            continue
        roll -= float(rule.get("reroutePercentage") or 0)
        if roll < 0:
            return target
    return site.production


def _rule_target(site: Site, rule: dict[str, Any]) -> Unit | None:
    host = str(rule.get("actionHostName") or "").lower().split(":", 1)[0]
    for unit in site.slots.values():
        if unit.host_name == host:
            return unit
    return site.slots.get(str(rule.get("name") or "").lower())


class FrontDoors:
    def __init__(
        self,
        world: World,
        faults: Faults,
        clock: Callable[[], datetime],
        rng: random.Random,
        backend_url: Callable[[Unit], str],
    ) -> None:
        self._world = world
        self._faults = faults
        self._clock = clock
        self._rng = rng
        self._backend_url = backend_url
        self._listeners: dict[str, Listener] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=120),
            auto_decompress=False,
        )
        for profile in self._world.profiles.values():
            self._listeners[profile.name.lower()] = Listener(self._profile_handler(profile.name))
        for site in self._world.sites.values():
            if site.slots:
                self._listeners[site.name.lower()] = Listener(self._site_handler(site))
        await asyncio.gather(*(listener.start() for listener in self._listeners.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(listener.close() for listener in self._listeners.values()))
        if self._session is not None:
            await self._session.close()

    def url(self, name: str) -> str | None:
        listener = self._listeners.get(name.lower())
        return listener.url if listener else None

    def _profile_handler(self, name: str) -> Callable[[web.BaseRequest], Any]:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            profile = self._world.profile_named(name)
            endpoint = None
            if profile is not None:
                endpoint = choose_endpoint(
                    self._world, self._faults, self._clock(), profile, self._rng
                )
            unit = endpoint_unit(self._world, endpoint) if endpoint else None
            if unit is None:
                return _json(
                    503, {"error": f"Traffic Manager profile {name} has no endpoint to serve"}
                )
            return await self._forward(unit, request, name)

        return handle

    def _site_handler(self, site: Site) -> Callable[[web.BaseRequest], Any]:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            pinned = request.query.get("x-ms-routing-name")
            return await self._forward(ramp_up_choice(site, self._rng, pinned), request, site.name)

        return handle

    async def _forward(self, unit: Unit, request: web.BaseRequest, door: str) -> web.Response:
        assert self._session is not None
        url = self._backend_url(unit) + request.raw_path
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        headers["X-Forwarded-Host"] = request.host
        body = await request.read()
        for attempt in (1, 2):
            try:
                async with self._session.request(
                    request.method, url, headers=headers, data=body or None, allow_redirects=False
                ) as answer:
                    payload = await answer.read()
                    back = CIMultiDict(
                        (k, v)
                        for k, v in answer.headers.items()
                        if k.lower() not in NOT_COPIED_BACK
                    )
                    back["X-Front-Door"] = door
                    return web.Response(status=answer.status, body=payload, headers=back)
            except aiohttp.ServerDisconnectedError:
                if attempt == 2:
                    break  # a pooled connection the backend had closed: try a fresh one once
            except (aiohttp.ClientError, TimeoutError) as error:
                return _json(502, {"error": f"backend {unit.label} unreachable: {error}"})
        return _json(502, {"error": f"backend {unit.label} closed the connection"})
