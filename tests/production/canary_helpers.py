"""What the canary tests through serve share: a canary configuration, users on the public host,
watching Traffic Manager, and reading the card's thread."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .conftest import Production, SandboxProcess
from .fake_slack import Message
from .test_serve_restart import ALICE

STAGES = [{"percent": 20, "hold": "4s"}, {"percent": 50, "hold": "4s"}, {"percent": 100}]
BOB = "U0BOB"  # a lead: an approver of every environment
USERS_PATH = "/api/queues"
"""What users ask for: an API path, where the app's faults show (its /health never errors)."""


def canaries(config: dict[str, Any]) -> None:
    for env in config["environments"].values():
        env["approvals"] = {"required": 0, "approvers": ["leads"]}
        env["canary"] = {
            "stages": STAGES,
            "interval": "1s",
            # A stage resumed after a restart has little time left: extensions cover it.
            "max_extensions": 3,
            "metrics": {"source": "scrape"},
            # Seconds-long windows of random routing are noisy: looser than a team's defaults.
            "rollback": {
                "min_requests": 5,
                "max_error_rate": 0.05,
                "min_throughput_ratio": 0.5,
                "consecutive_failures": 2,
            },
        }


@contextlib.asynccontextmanager
async def traffic(sandbox: SandboxProcess, environment: str, rps: int = 100) -> AsyncIterator[None]:
    """Users on the public host, about ``rps`` requests a second, until the block ends."""
    url = f"{sandbox.public_url(environment)}{USERS_PATH}"

    async def users(http: httpx.AsyncClient) -> None:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                await http.get(url)
            await asyncio.sleep(10 / rps)

    async with httpx.AsyncClient(timeout=5) as http:
        tasks = [asyncio.create_task(users(http)) for _ in range(10)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def weights_seen(sandbox: SandboxProcess, until: asyncio.Event) -> list[dict[str, Any]]:
    """Every distinct Traffic Manager state while the canary runs (official SDK)."""
    seen: list[dict[str, Any]] = []
    while not until.is_set():
        state = await sandbox.traffic_manager()
        if not seen or seen[-1] != state:
            seen.append(state)
        await asyncio.sleep(0.1)
    return seen


async def until_stage_stored(prod: Production, stage: int, timeout: float = 60) -> None:  # noqa: ASYNC109
    """Wait until the deployment's stored progress (the SQLite file serve writes) has stage
    ``stage`` (1-based) begun: what a restart resumes from, whatever the thread, which may lag
    behind a chart's rendering, says yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(prod.database, timeout=5)) as db:
            rows = db.execute("SELECT context FROM deployments").fetchall()
        progress = [json.loads(context or "{}").get("canary") or {} for (context,) in rows]
        if any(p.get("stage") == stage - 1 and p.get("stage_started_at") for p in progress):
            return
        if loop.time() > deadline:
            raise AssertionError(f"stage {stage} never began: {progress}")
        await asyncio.sleep(0.05)


def thread_text(prod: Production, card: Message) -> str:
    return " | ".join(m.text for m in prod.slack.thread(card))


def in_thread(prod: Production, card: Message, text: str) -> bool:
    return any(text in m.text for m in prod.slack.thread(card))


async def canary(prod: Production, env: str, version: str) -> Message:
    slack = prod.slack
    assert await slack.command(ALICE, f"/canary {env} {version}") == 200
    card: Message = await slack.wait_for(lambda: slack.card(version))
    return card


def canary_lines(card: Message) -> list[str]:
    """The card's section lines as a person reads them (Slack's escaping undone)."""
    texts = [b["text"]["text"] for b in card.blocks if b.get("type") == "section" and "text" in b]
    return [html.unescape(line) for text in texts for line in text.splitlines()]


def fired_rule(card: Message) -> str | None:
    """The rule the card's canary section says fired, if one did."""
    flag = ":triangular_flag_on_post: "
    return next((line[len(flag) :] for line in canary_lines(card) if line.startswith(flag)), None)
