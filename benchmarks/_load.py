"""The load generator's side of slack_bench: signed commands and clicks as Slack sends them,
answers read back from the Slack API process, switches read from the sandbox's ARM log."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import itertools
import json
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from _arm import app_of, is_switch
from _processes import SIGNING_SECRET, Proc, cpu_seconds

TEAM, CHANNEL = "T0BENCH", "C0DEPLOYS"
STATES = {
    "Waiting for approval": "pending_approval",
    "Queued": "queued",
    "Running": "running",
    "Paused": "paused",
    "Watching": "watching",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Rolling back": "rolling_back",
    "Rolled back": "rolled_back",
    "Rejected": "rejected",
    "Cancelled": "cancelled",
}  # fmt: skip  (bot.render.card.STATES, by label)
TERMINAL = {"succeeded", "failed", "rolled_back", "rejected", "expired", "cancelled"}
PROFILE = ("rg-virtualqueue-prod", "virtualqueue-production-tm")


@dataclass
class Chunk:
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    failures: int = 0
    cpu: float = 0.0
    requests: int = 0

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / self.requests if self.requests else float("nan")

    def add(self, other: Chunk) -> None:
        self.acks += other.acks
        self.answers += other.answers
        self.failures += other.failures
        self.cpu += other.cpu
        self.requests += other.requests


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def card_state(message: dict[str, Any]) -> str | None:
    text = str(message.get("text", ""))
    return next((s for label, s in STATES.items() if text.endswith(label)), None)


def button(message: dict[str, Any], label: str) -> dict[str, Any] | None:
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return dict(element)
    return None


class LoadClient:
    def __init__(self, bot: str, slack: str, admin: str, azure: dict[str, str]) -> None:
        self.bot, self.slack, self.admin, self.azure = bot, slack, admin, azure
        self._ids = itertools.count(1)
        self._run = f"{time.time():.0f}"  # keys unique to this run, should the API outlive it
        self._responses_seen = 0
        self.arrived: dict[str, float] = {}
        self._http: aiohttp.ClientSession

    async def __aenter__(self) -> LoadClient:
        connector = aiohttp.TCPConnector(limit=0)
        self._http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=30)
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.close()

    # -- Slack, as seen from outside --------------------------------------------------------
    def command_body(self, text: str, key: str, user: str = "U0ALICE") -> bytes:
        form = {
            "command": "/deploy", "text": text, "user_id": user, "user_name": user.lower(),
            "channel_id": CHANNEL, "team_id": TEAM, "trigger_id": f"{time.time()}.{key}",
            "response_url": f"{self.slack}/respond/{key}",
        }  # fmt: skip
        return urlencode(form).encode()

    async def post(self, url: str, body: bytes) -> bool:
        try:
            async with self._http.post(url, data=body, headers=signed(body)) as answer:
                await answer.read()
                return answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def read_responses(self) -> None:
        async with self._http.get(
            f"{self.slack}/bench/responses", params={"since": self._responses_seen}
        ) as answer:
            found = await answer.json()
        self._responses_seen = found["next"]
        for item in found["items"]:
            self.arrived[item["id"]] = item["at"]

    async def messages(self) -> list[dict[str, Any]]:
        async with self._http.get(f"{self.slack}/bench/messages") as answer:
            return list((await answer.json())["messages"])

    async def card(self, ts: str) -> dict[str, Any]:
        return next(m for m in await self.messages() if m["ts"] == ts)

    # -- load ---------------------------------------------------------------------------------
    async def fire(
        self, url: str, bodies: list[tuple[str, bytes]], senders: int
    ) -> tuple[Chunk, dict[str, float]]:
        chunk, sent = Chunk(), {}
        pending = iter(bodies)

        async def sender() -> None:
            for key, body in pending:
                sent[key] = time.time()
                began = time.perf_counter()
                if await self.post(url, body):
                    chunk.acks.append(time.perf_counter() - began)
                else:
                    chunk.failures += 1

        await asyncio.gather(*(sender() for _ in range(senders)))
        return chunk, sent

    async def drain(self, sent: dict[str, float], wait_s: float = 60) -> list[float]:
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline:
            await self.read_responses()
            if all(key in self.arrived for key in sent):
                break
            await asyncio.sleep(0.05)
        return [self.arrived[k] - at for k, at in sent.items() if k in self.arrived]

    async def chunk(
        self, label: str, proc: Proc, path: str, text: str, n: int, senders: int
    ) -> Chunk:
        """Untimed: one request per sender (fresh connections), answers drained. Then ``n``
        timed, the answers awaited, CPU read before and after."""
        url, answering = f"{proc.url}{path}", path != "/slack/events" or proc.url == self.bot
        warm = [(k, self.command_body("help", k)) for k in self.keys("warm", senders)]
        _, sent = await self.fire(url, warm, senders)
        if answering:
            await self.drain(sent)
        bodies = [(k, self.command_body(text, k)) for k in self.keys(label, n)]
        before = cpu_seconds(proc.pid)
        chunk, sent = await self.fire(url, bodies, senders)
        if answering:
            chunk.answers = await self.drain(sent)
            chunk.failures += len(sent) - len(chunk.answers)
        chunk.cpu, chunk.requests = cpu_seconds(proc.pid) - before, n
        return chunk

    def keys(self, label: str, n: int) -> list[str]:
        return [f"{label.replace(' ', '-')}-{self._run}-{next(self._ids)}" for _ in range(n)]

    # -- deployments and clicks -------------------------------------------------------------
    async def deploy(self, env: str, version: str) -> str:
        """``/deploy env version``; the ts of the card it posts."""
        assert await self.post(
            f"{self.bot}/slack/events", self.command_body(f"{env} {version}", f"deploy-{version}")
        )
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            for message in await self.messages():
                if version in message["text"] and card_state(message):
                    return str(message["ts"])
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no card for {env} {version}")

    async def watching(self, ts: str, wait_s: float = 90) -> dict[str, Any] | None:
        """The card once it offers Roll back while Watching; None if the job ended first."""
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline:
            card = await self.card(ts)
            state = card_state(card)
            if state == "watching" and button(card, "Roll back"):
                return card
            if state in TERMINAL:
                return None
            await asyncio.sleep(0.1)
        raise TimeoutError(f"card {ts} never offered Roll back")

    async def ended(self, ts: str, wait_s: float = 90) -> str:
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline:
            state = card_state(await self.card(ts))
            if state in TERMINAL:
                return state or "?"
            await asyncio.sleep(0.1)
        raise TimeoutError(f"card {ts} never ended")

    async def click(self, card: dict[str, Any], label: str, user: str = "U0BOB") -> float:
        found = button(card, label)
        assert found is not None
        action = {
            "action_id": found["action_id"], "block_id": "b", "type": "button",
            "value": found.get("value", ""), "action_ts": str(time.time()),
        }  # fmt: skip
        container = {"type": "message", "message_ts": card["ts"], "channel_id": card["channel"]}
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0BENCH", "team": {"id": TEAM, "domain": "bench"},
            "container": container, "channel": {"id": card["channel"]},
            "trigger_id": f"{time.time()}.click",
            "response_url": f"{self.slack}/respond/click-{next(self._ids)}",
            "actions": [action],
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)}).encode()
        clicked = time.time()
        assert await self.post(f"{self.bot}/slack/events", body)
        return clicked

    async def arm_after(
        self, since: float, app: str | None, wait_s: float = 30
    ) -> tuple[float, float]:
        """Seconds from ``since`` to the first ARM request answered after it, and to the
        traffic switch: the Traffic Manager PATCH (``app`` None) or ``app``'s slot swap."""
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline:
            async with self._http.get(
                f"{self.admin}/admin/arm-requests", params={"limit": "400"}
            ) as answer:
                records = [
                    (datetime.fromisoformat(r["at"]).timestamp(), r) for r in await answer.json()
                ]
            after = [(at, r) for at, r in records if at >= since]
            switch = [at for at, r in after if is_switch(r, app)]
            if switch:
                return min(at for at, _ in after) - since, min(switch) - since
            await asyncio.sleep(0.02)
        raise TimeoutError("no traffic switch after the click")

    async def breach_when_watching(self, ts: str, version: str, database: Path) -> float | None:
        """Seconds from the watch's breach verdict to the Traffic Manager PATCH that follows; None
        if the job ended before it watched. The breach: ``version`` turned unhealthy in the
        sandbox. The verdict's time is its ``health.verdict`` row's ``seen_at``, when the last
        failing check had answered (the row itself is written after the switch), read back
        from the bot's database once committed."""
        if await self.watching(ts) is None:
            return None
        since = time.time()
        await self.version_fault(version, unhealthy=True)
        try:
            _, switch = await self.arm_after(since, None)
        finally:
            await self.version_fault(version)  # no fault named: the version behaves again
        deadline = time.perf_counter() + 10
        while (verdict := verdict_after(database, since)) is None:
            if time.perf_counter() > deadline:
                raise TimeoutError("the breach's health.verdict row was never committed")
            await asyncio.sleep(0.05)
        return since + switch - verdict

    async def version_fault(self, version: str, **fault: bool) -> None:
        body = {"version": version, **fault}
        async with self._http.post(f"{self.admin}/admin/faults/version", json=body) as answer:
            answer.raise_for_status()

    async def roll_back_when_watching(self, ts: str) -> tuple[float, float] | None:
        card = await self.watching(ts)
        if card is None:
            return None
        return await self.arm_after(await self.click(card, "Roll back"), None)

    async def roll_back_all(self, cards: dict[str, str]) -> list[float]:
        """Every card that watches, clicked at once; seconds from each click to its switch."""
        found = await asyncio.gather(
            *(self.watching(ts) for ts in cards.values()), return_exceptions=True
        )
        ready = [(env, c) for env, c in zip(cards, found, strict=True) if isinstance(c, dict)]
        clicked = await asyncio.gather(*(self.click(card, "Roll back") for _, card in ready))
        switched = await asyncio.gather(
            *(self.arm_after(at, app_of(env)) for (env, _), at in zip(ready, clicked, strict=True)),
            return_exceptions=True,
        )
        await asyncio.gather(*(self.ended(ts) for ts in cards.values()), return_exceptions=True)
        return [s[1] for s in switched if isinstance(s, tuple)]

    async def states(self, cards: dict[str, str]) -> str:
        found = [card_state(await self.card(ts)) for ts in cards.values()]
        counts = collections.Counter(found)
        return " ".join(f"{state}×{n}" for state, n in sorted(counts.items(), key=str))


def verdict_after(database: Path, since: float) -> float | None:
    """When the watch reached the first failing ``health.verdict`` at or after ``since``, read
    from the bot's SQLite file (read-only: the bot keeps writing it)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        rows = connection.execute(
            "SELECT details FROM audit_events WHERE action = 'health.verdict' "
            "ORDER BY seq DESC LIMIT 20"
        ).fetchall()
    verdicts = [json.loads(details) for (details,) in rows]
    stamps = [
        datetime.fromisoformat(v["seen_at"]).timestamp()
        for v in verdicts
        if v.get("ok") is False and "seen_at" in v
    ]
    after = [stamp for stamp in stamps if stamp >= since]
    return min(after) if after else None
