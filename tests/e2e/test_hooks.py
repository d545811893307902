"""Hooks: an HTTP call per phase whose non-2xx answer stops the job before anything switches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.local import local_stack

from .conftest import fast, latest, served_version


@pytest.fixture
async def hook_server() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    calls: list[dict[str, Any]] = []
    answers = [200]

    async def hook(request: web.Request) -> web.Response:
        calls.append({"path": request.path, **await request.json()})
        return web.Response(status=answers[0], text="hook says so")

    app = web.Application()
    app.router.add_post("/{phase}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", calls, answers
    await runner.cleanup()


def with_hooks(url: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def override(mapping: dict[str, Any]) -> dict[str, Any]:
        mapping = fast(mapping)
        mapping["environments"]["dev"]["hooks"] = {
            "pre_switch": {"url": f"{url}/pre-switch"},
            "post_switch": {"url": f"{url}/post-switch"},
        }
        return mapping

    return override


@pytest.mark.parametrize(
    ("status", "outcome", "live"), [(200, "succeeded", "v1.2.0"), (500, "failed", "v1.1.0")]
)
async def test_hooks_gate_the_switch(
    tmp_path: Path,
    hook_server: tuple[str, list[dict[str, Any]], list[int]],
    status: int,
    outcome: str,
    live: str,
) -> None:
    url, calls, answers = hook_server
    answers[0] = status
    async with local_stack(
        overrides=with_hooks(url),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
        publisher_interval=0.05,
    ) as stack:
        await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
        await stack.services.idle()
        d = await latest(stack, "dev")
        assert d.state == outcome, d.steps
        assert await served_version(stack.sandbox.front_door_url("virtualqueue-dev")) == live
        assert calls[0]["path"] == "/pre-switch"
        assert calls[0]["version"] == "v1.2.0"
        assert calls[0]["deployment"] == d.id
        if status == 200:
            assert [c["path"] for c in calls] == ["/pre-switch", "/post-switch"]
        else:
            assert len(calls) == 1
            assert "pre_switch hook answered 500" in str(d.error)
