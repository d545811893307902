"""The sandbox's own Alertmanager-shaped webhook (for machines without Prometheus): a 5xx
share above the rule fires one v4 payload the bot's parser maps to the environment, back
under it sends the resolve; the admin API refuses what it cannot use."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from commands.config import config_from_text, reference_text
from commands.incidents.mapping import environment_of
from commands.incidents.parse import parse_body
from commands.platform.sandbox import Sandbox

TOKEN = "drill-token"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, bytes]]]]:
    got: list[tuple[str, bytes]] = []

    async def alerts(request: web.Request) -> web.Response:
        got.append((request.headers.get("Authorization", ""), await request.read()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/alerts/alertmanager", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/alerts/alertmanager", got
    await runner.cleanup()


async def until(what: object, timeout: float = 20) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not what():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_5xx_share_fires_then_resolves(
    receiver: tuple[str, list[tuple[str, bytes]]],
) -> None:
    url, got = receiver
    async with Sandbox.start(seed=1, load_rps=40) as sb:
        sb.alerting.window_s = 2.0
        sb.alerting.send_to(url, TOKEN)
        await asyncio.sleep(1.5)
        assert got == []  # healthy traffic: nothing fires
        sb.faults.version("v1.1.0", error_rate=0.5)  # what prod (and staging) serve

        def envs_fired() -> set[str]:
            return {json.loads(b)["commonLabels"]["env"] for _, b in got}

        await until(lambda: "prod" in envs_fired())
        auth, body = got[0]
        assert auth == f"Bearer {TOKEN}"
        batch = parse_body("alertmanager", body)
        assert batch.source == "alertmanager" and batch.alerts[0].status == "firing"
        assert batch.alerts[0].severity == "critical"
        config = config_from_text(reference_text(), "reference.yml")
        envs = {environment_of(config, parse_body("alertmanager", b)).environment for _, b in got}
        assert "prod" in envs
        sb.faults.clear()

        def closed() -> bool:
            sent = [json.loads(b) for _, b in got]
            fired = {p["commonLabels"]["env"] for p in sent if p["status"] == "firing"}
            ended = {p["commonLabels"]["env"] for p in sent if p["status"] == "resolved"}
            return fired == ended  # every environment that fired was resolved, once

        await until(closed)
        resolved = [json.loads(b) for _, b in got if json.loads(b)["status"] == "resolved"]
        assert len(resolved) == len({r["groupKey"] for r in resolved})
        first = json.loads(got[0][1])
        again = next(r for r in resolved if r["groupKey"] == first["groupKey"])
        assert again["alerts"][0]["startsAt"] == first["alerts"][0]["startsAt"]
        assert again["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
        assert sb.alerting.snapshot()["sent"] == len(got)


async def test_admin_api_refuses_what_it_cannot_use() -> None:
    async with Sandbox.start(seed=1) as sb, httpx.AsyncClient() as http:
        admin = f"{sb.admin_url}/admin/alerting"
        missing = await http.post(admin, json={})
        assert (missing.status_code, missing.json()["error"]) == (400, "missing field: url")
        no_token = await http.post(admin, json={"url": "http://127.0.0.1:9/alerts"})
        assert no_token.status_code == 400 and "DEPLOYBOT_ALERT_TOKEN" in no_token.json()["error"]
        bad = await http.post(admin, json={"url": "ftp://x", "token": "t"})
        assert bad.status_code == 400 and "http(s) URL" in bad.json()["error"]
        odd = await http.post(admin, json={"url": "http://x", "token": "t", "every": 1})
        assert odd.status_code == 400 and "unknown field(s): every" in odd.json()["error"]
        ok = await http.post(admin, json={"url": "http://127.0.0.1:9/alerts", "token": "t"})
        assert ok.status_code == 200 and ok.json()["alerting"]["url"] == "http://127.0.0.1:9/alerts"
        off = await http.delete(admin)
        assert off.json()["alerting"]["url"] is None
