"""Shared by the benchmarks: a local stack built for measuring, driving it through Slack
(cards, Roll back clicks, signed slash-command load), percentiles and a PASS/MISS table.

``bench_stack`` is ``bot.local.local_stack`` with the knobs a benchmark needs and the console
does not: the sandbox system to start, a configuration hook that may read the running sandbox
(to point extra environments at its hosts), and ``process_before_response`` (False, as real
HTTP mode runs: Bolt answers Slack's request at ``ack()`` and handles the command afterwards).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bot.local import SIGNING_SECRET, LocalStack, local_bot, local_settings, local_world
from bot.render.card import STATES
from bot.slackemu import (
    ButtonNotFound,
    Message,
    find_button,
    signed_headers,
)
from bot.slackemu.payloads import slash_command_form
from commands.config.model import Environment
from commands.platform.sandbox import RecordedRequest, Sandbox, SandboxSystem

Configure = Callable[[dict[str, Any], Sandbox], dict[str, Any]]
ArmMatch = Callable[[RecordedRequest], bool]
FAILED_ANSWER = "Something went wrong on my side"  # answers.error_reference
TERMINAL = frozenset({"succeeded", "failed", "rolled_back", "rejected", "expired", "cancelled"})


@contextlib.asynccontextmanager
async def bench_stack(
    *,
    system: SandboxSystem,
    configure: Configure,
    publisher_interval: float = 0.3,
) -> AsyncIterator[LocalStack]:
    """The product's own local stack (sandbox, Slack emulator, the real bot over HTTP)."""
    async with contextlib.AsyncExitStack() as stack:
        world = await stack.enter_async_context(local_world(system=system))
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="deploybot-bench-"))
        database_url = f"sqlite+aiosqlite:///{Path(scratch) / 'deploybot.db'}"
        settings = local_settings(world, overrides=lambda m: configure(m, world.sandbox))
        yield await stack.enter_async_context(
            local_bot(world, settings, database_url, publisher_interval=publisher_interval)
        )


# -- driving it through Slack ------------------------------------------------------------------
def card_state(message: Message) -> str | None:
    """The state a card shows (its fallback text ends with the state's label)."""
    return next((s for s, (_, label) in STATES.items() if message.text.endswith(label)), None)


def rollback_button(message: Message) -> str | None:
    """The deployment id on the card's Roll back button, if it shows one."""
    try:
        return find_button(message.blocks, "Roll back").value
    except ButtonNotFound:
        return None


async def deploy(stack: LocalStack, env: str, version: str, user: str = "U0ALICE") -> Message:
    """``/deploy <env> <version>`` in #deploys; the card it posts."""
    mark = stack.ws.mark()
    await stack.emu.user(user).command("/deploy", f"{env} {version}", channel="#deploys")
    return await stack.ws.wait_for_message("#deploys", version, since=mark, timeout=30)


async def card_settled(stack: LocalStack, card: Message, wait_s: float = 60) -> Message:
    """The card once it offers Roll back while Watching, or once its job has ended."""

    def probe() -> Message | None:
        now = stack.ws.find_message(card.channel, card.ts)
        state = card_state(now) if now else None
        if now and (state in TERMINAL or (state == "watching" and rollback_button(now))):
            return now
        return None

    return await stack.ws.wait_until(probe, timeout=wait_s, description="a settled card")


def switch_request(env: Environment, after: datetime) -> ArmMatch:
    """The request that moves ``env``'s production traffic, answered after ``after``."""

    def match(r: RecordedRequest) -> bool:
        path = r.path.lower()
        if r.at < after:
            return False
        if env.topology == "traffic-manager":
            return r.method == "PATCH" and "/trafficmanagerprofiles/" in path
        return path.endswith("/slotsswap") and f"/sites/{env.azure.app}/".lower() in path

    return match


@dataclass(frozen=True)
class ClickTiming:
    """Seconds from the click to: the rollback.requested audit row, the first ARM request
    answered, the traffic-switch request answered."""

    signalled: float
    first_arm: float
    switched: float


async def click_roll_back(
    stack: LocalStack, env: Environment, card: Message, user: str = "U0BOB"
) -> ClickTiming:
    """Click the card's Roll back (confirm dialog accepted) and time the way to Azure."""
    deployment_id = rollback_button(card)
    clicked = datetime.now(UTC)
    await stack.emu.user(user).click(card, "Roll back", confirm=True)
    switch = await stack.sandbox.wait_for_arm(switch_request(env, clicked), timeout=30)
    first = next(r for r in stack.sandbox.arm_requests if r.at >= clicked)
    audit = stack.services.store.audit
    rows = await audit.query(deployment_id=deployment_id, actions=["rollback.requested"], limit=1)
    signal = rows[0].at if rows else switch.at
    return ClickTiming(*((at - clicked).total_seconds() for at in (signal, first.at, switch.at)))


# -- signed slash commands under load -------------------------------------------------------
@dataclass
class Sample:
    """Acknowledgement times, answer times (to the response_url post) and failures."""

    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, other: Sample) -> None:
        self.acks += other.acks
        self.answers += other.answers
        self.failures += other.failures


def command_bodies(stack: LocalStack, text: str, n: int) -> list[tuple[str, str]]:
    """(response target id, signed-to-be form body) for ``n`` fresh /deploy commands."""
    emu, ws = stack.emu, stack.ws
    user, channel = ws.user("U0ALICE"), ws.directory.resolve_post_target("#deploys")
    out = []
    for _ in range(n):
        target = emu.interactions.new_target("command", user.id, channel.id)
        form = slash_command_form(
            ws, user=user, channel=channel, command="/deploy", text=text,
            response_url=emu.response_url(target),
            trigger_id=emu.interactions.issue_trigger(user.id, channel.id),
            token=emu.verification_token,
        )  # fmt: skip
        out.append((target.id, urlencode(form)))
    return out


async def fire(
    http: aiohttp.ClientSession, url: str, bodies: list[tuple[str, str]], senders: int
) -> tuple[Sample, dict[str, float]]:
    """POST every body, signed just before it goes, from ``senders`` concurrent senders."""
    sample, sent = Sample(), {}
    pending = iter(bodies)

    async def sender() -> None:
        for key, body in pending:
            data = body.encode()
            headers = signed_headers(SIGNING_SECRET, int(time.time()), data)
            sent[key] = time.time()
            started = time.perf_counter()
            try:
                async with http.post(url, data=data, headers=headers) as answer:
                    await answer.read()
                    ok = answer.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                sample.acks.append(time.perf_counter() - started)
            else:
                sample.failures += 1

    await asyncio.gather(*(sender() for _ in range(senders)))
    return sample, sent


async def drained(
    stack: LocalStack, sent: dict[str, float], sample: Sample, wait_s: float = 60
) -> None:
    """Wait for every command's answer at its response_url; note how long each took.

    An answer still missing after ``wait_s`` counts as a failure.
    """
    posts = stack.ws.response_posts

    def probe() -> bool | None:
        return sum(p.url_id in sent for p in posts) >= len(sent) or None

    with contextlib.suppress(TimeoutError):
        await stack.ws.wait_until(probe, timeout=wait_s, description="every command answered")
    answered = [p for p in posts if p.url_id in sent]
    sample.failures += len(sent) - len(answered)
    for post in answered:
        sample.answers.append(post.at - sent[post.url_id])
        sample.failures += post.status != 200 or FAILED_ANSWER in str(post.payload)


async def timed_chunk(
    http: aiohttp.ClientSession,
    stack: LocalStack,
    url: str,
    text: str,
    n: int,
    senders: int,
    full_collections: FullCollections,
) -> Sample:
    """``n`` signed ``/deploy <text>`` to ``url`` from ``senders`` senders, timed.

    Untimed first: one request per sender (so every connection is fresh: the server closes
    idle keep-alive connections after 5 s) and a full collection, so that a 100-200 ms
    generation-2 pause of this crowded heap falls into no chunk by luck; the pauses that
    still land inside are counted. A chunk sent to the bot is drained: every answer awaited.
    """
    to_bot = url.startswith(stack.url)
    warm_sample, warm_sent = await fire(http, url, command_bodies(stack, "help", senders), senders)
    if to_bot:
        await drained(stack, warm_sent, warm_sample)
    gc.collect()
    full_collections.counting = True
    try:
        sample, sent = await fire(http, url, command_bodies(stack, text, n), senders)
    finally:
        full_collections.counting = False
    if to_bot:
        await drained(stack, sent, sample)
    return sample


async def audit_quiet(stack: LocalStack, wait_s: float = 120, trickle: int = 5) -> float:
    """Wait until the audit log grows by fewer than ``trickle`` rows in half a second.

    Azure calls are audited by a background writer whose queue the services do not expose,
    so a burst of commands leaves a backlog that would slow whatever is measured next. Running
    deployments keep adding a few rows a second, hence ``trickle``. Returns the seconds waited.
    """
    audit, started = stack.services.store.audit, time.perf_counter()

    async def head() -> int:
        newest = await audit.query(limit=1)
        return newest[0].seq if newest else 0

    last = await head()
    while time.perf_counter() - started < wait_s:
        await asyncio.sleep(0.5)
        now = await head()
        if now - last < trickle:
            break
        last = now
    return time.perf_counter() - started


class FullCollections:
    """Pauses of CPython's full (generation 2) collections while ``counting`` is on."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self.counting = False
        self._began = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        elif self.counting:
            self.pauses.append(time.perf_counter() - self._began)

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)


# -- numbers -----------------------------------------------------------------------------------
def percentile(samples: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no samples."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def peak_rss_mib() -> float:
    """The process's peak resident set so far (Linux reports ru_maxrss in KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# -- the table ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    name: str
    measured: str
    baseline: str = ""
    target: str = ""
    passed: bool | None = None


def render(rows: list[Row]) -> str:
    verdicts = {None: "", True: "PASS", False: "MISS"}
    table = [("measure", "deploybot", "baseline", "target", "")]
    table += [(r.name, r.measured, r.baseline, r.target, verdicts[r.passed]) for r in rows]
    headers = table[0]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
