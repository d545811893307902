"""Slack edge under load, and a Roll back click to the Azure traffic switch.

    python benchmarks/slack_bench.py [--senders 50] [--requests 400] [--deployments 5] [--clicks 15]

One process, one event loop: the Azure sandbox, the Slack workspace emulator, the real bot
(the listeners ack and hand the work to the bot's supervised task set, so the ack goes out
before the command is handled) and the load client, all on loopback ports. Approvals 0, no freezes.

1. Ack latency. The reference system has three environments; ``--deployments`` above three
   adds slotted Web Apps to the sandbox and environments (copies of dev) for them, so that
   many blue-green deployments really run at once (watch window 150 s) while one aiohttp
   session fires signed ``/deploy status`` (the headline: it reads the database and every
   environment's live state from Azure) and ``/deploy help`` requests from ``--senders``
   concurrent senders. The baseline is a bare Starlette POST handler served the same way
   (``bot.httpserver.running``) and hit by the same session with the same bodies. First 50
   requests from one sender (bare, then help), then two rounds of bare, help, status. Each
   timed chunk is preceded by one untimed request per sender and a full garbage collection
   (see ``_common.timed_chunk``); after a bot chunk every answer is awaited at its
   response_url and the audit log is let go quiet, so no backlog lands on the next chunk.
2. Roll back → switch. Each click: deploy prod, wait for the card to show Watching and
   Roll back, click it (confirm dialog accepted), and time until the sandbox answers the first
   Traffic Manager endpoint PATCH after the click (the sandbox stamps a request when it has
   answered it); then wait for the job to end rolled back. Baseline: one raw SDK
   ``endpoints.update`` PATCH (same values as now, so traffic does not move). The deployments
   of part 1 are ended the same way, all five clicked at once: reported on its own row.
3. Peak RSS of the process and the audit rows the run wrote. Nothing here asserts on time:
   PASS/MISS only compares with the targets, and the exit status is 0 whenever the run ends.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import copy
import dataclasses
import gc
import statistics
import time
from typing import Any

import aiohttp
from _common import (
    ClickTiming,
    Configure,
    FullCollections,
    Row,
    Sample,
    audit_quiet,
    bench_stack,
    card_settled,
    card_state,
    click_roll_back,
    deploy,
    ms,
    peak_rss_mib,
    percentile,
    render,
    timed_chunk,
)
from azure.mgmt.trafficmanager.models import Endpoint, EndpointProperties
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.httpserver import running
from bot.local import LocalStack
from bot.slackemu import Message
from commands.config.model import Environment
from commands.platform.sandbox import Sandbox, SandboxSystem, SiteSpec, SlotSpec
from commands.platform.sandbox.clients import sdk_clients

# Long enough that every deployment still watches when the load ends; the benchmark rolls
# them back from their cards then, so nobody waits the window out.
WATCH = "150s"


@dataclasses.dataclass(frozen=True)
class Args:
    senders: int = 50
    requests: int = 400
    deployments: int = 5
    clicks: int = 15


# -- the system under test ----------------------------------------------------------------------
def extra_names(deployments: int) -> tuple[str, ...]:
    return tuple(f"extra{i}" for i in range(1, max(0, deployments - 3) + 1))


def bench_system(extra: tuple[str, ...]) -> SandboxSystem:
    ref = SandboxSystem.reference()
    sites = tuple(
        SiteSpec(ref.subscription_id, f"rg-virtualqueue-{name}", f"virtualqueue-{name}", "v1.1.0",
                 slots=(SlotSpec("green", "v1.0.0"),))
        for name in extra
    )  # fmt: skip
    return dataclasses.replace(ref, sites=ref.sites + sites)


def configure(extra: tuple[str, ...]) -> Configure:
    def apply(mapping: dict[str, Any], sb: Sandbox) -> dict[str, Any]:
        mapping["freezes"] = []
        envs = mapping["environments"]
        for name in extra:
            app = f"virtualqueue-{name}"
            env = copy.deepcopy(envs["dev"])
            env["aliases"] = []
            env["azure"].update(resource_group=f"rg-{app}", app=app)
            targets = {"production": sb.app_url(app), "green": sb.app_url(app, "green")}
            env["urls"] = {"public": sb.front_door_url(app), "targets": targets}
            envs[name] = env
        for env in envs.values():
            env["approvals"] = {"required": 0}
            env.pop("requires", None)  # prod straight away: each round deploys a new version
            health = env.setdefault("health", {})
            health.update(watch=WATCH, watch_interval="2s", version_wait="10s")
        return mapping

    return apply


def bare_app() -> Starlette:
    async def ok(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    return Starlette(routes=[Route("/slack/events", ok, methods=["POST"])])


async def states(stack: LocalStack, names: list[str]) -> str:
    found = [await stack.services.store.deployments.latest(n, limit=1) for n in names]
    counts = collections.Counter(d[0].state for d in found if d)
    return " ".join(f"{state}×{n}" for state, n in sorted(counts.items()))


# -- 1. acknowledgement latency under load ------------------------------------------------------
async def ack_load(
    stack: LocalStack, bare_url: str, args: Args, gcs: FullCollections, notes: list[str]
) -> dict[str, Sample]:
    """One sender (no concurrency), then two rounds of bare, help, status from all senders.

    After each bot chunk the audit log is let go quiet, so its backlog lands on no later chunk.
    """
    bot_url = f"{stack.url}/slack/events"
    half = (args.requests + 1) // 2
    plan = [("bare·1", bare_url, "help", 1, 50), ("help·1", bot_url, "help", 1, 50)]
    for n in (half, args.requests - half):
        plan += [
            ("bare", bare_url, "help", args.senders, n),
            ("help", bot_url, "help", args.senders, n),
        ]
        plan += [("status", bot_url, "status", args.senders, n)]
    samples: dict[str, Sample] = collections.defaultdict(Sample)
    backlog = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        for label, url, text, senders, n in plan:
            samples[label].add(await timed_chunk(http, stack, url, text, n, senders, gcs))
            if url == bot_url:
                backlog.append(f"{await audit_quiet(stack):.1f} s after {n} {label}")
    notes.append("audit log quiet again (answers awaited first): " + ", ".join(backlog))
    return samples


async def load_phase(
    stack: LocalStack, names: list[str], args: Args, gcs: FullCollections, notes: list[str]
) -> tuple[dict[str, Sample], list[ClickTiming]]:
    versions = {name: f"v3.{i}.0" for i, name in enumerate(names, 1)}
    cards = {name: await deploy(stack, name, version) for name, version in versions.items()}
    async with running(bare_app()) as bare_url:
        before = await states(stack, names)
        samples = await ack_load(stack, f"{bare_url}/slack/events", args, gcs, notes)
        after = await states(stack, names)
    # End the deployments the quick way: roll each back from its card, all at once.
    envs = stack.settings.config.environments
    settled = await asyncio.gather(
        *(card_settled(stack, card) for card in cards.values()), return_exceptions=True
    )
    watching = [
        (envs[name], card)
        for name, card in zip(names, settled, strict=True)
        if isinstance(card, Message) and card_state(card) == "watching"
    ]
    clicked = await asyncio.gather(
        *(click_roll_back(stack, env, card) for env, card in watching), return_exceptions=True
    )
    together = [t for t in clicked if isinstance(t, ClickTiming)]
    if len(together) < len(names):
        notes.append(f"only {len(together)} of {len(names)} deployments could be rolled back")
    assert stack.services.runner is not None
    await stack.services.runner.idle()
    notes.append(
        f"deployments during the load ({', '.join(names)}): {before} when it began, "
        f"{after} when it ended; then rolled back from their cards: {await states(stack, names)}"
    )
    return samples, together


# -- 2. Roll back click → traffic switch --------------------------------------------------------
async def click_phase(stack: LocalStack, clicks: int, notes: list[str]) -> list[ClickTiming]:
    """Deploy prod, wait for Watching, click Roll back, wait for the job to end: N times."""
    prod = stack.settings.config.environments["prod"]
    runner = stack.services.runner
    assert runner is not None
    timings: list[ClickTiming] = []
    for i in range(1, clicks + 1):
        try:
            card = await card_settled(stack, await deploy(stack, "prod", f"v2.{i}.0"))
            if card_state(card) == "watching":
                timings.append(await click_roll_back(stack, prod, card))
            else:
                notes.append(f"click {i}: the deployment ended {card_state(card)} before it")
        except TimeoutError as error:
            notes.append(f"click {i}: timed out: {str(error).splitlines()[0][:100]}")
        await runner.idle()
        found = await stack.services.store.deployments.latest("prod", limit=1)
        if found and found[0].state not in ("rolled_back", "failed"):
            notes.append(f"click {i}: the job ended {found[0].state}, not rolled_back")
    return timings


async def raw_switch(sb: Sandbox, env: Environment, rounds: int = 20) -> list[float]:
    """One SDK PATCH of the live endpoint with its current values, timed after 3 warm-ups."""
    rg, profile = env.azure.resource_group, str(env.azure.traffic_manager)
    async with sdk_clients(sb, env.azure.subscription) as sdk:
        found = await sdk.tm.profiles.get(rg, profile)
        live = next(e for e in found.endpoints if e.endpoint_status == "Enabled")
        patch = Endpoint(
            properties=EndpointProperties(weight=live.weight, endpoint_status="Enabled")
        )
        times = []
        for n in range(rounds + 3):
            started = time.perf_counter()
            await sdk.tm.endpoints.update(rg, profile, "AzureEndpoints", live.name, patch)
            if n >= 3:
                times.append(time.perf_counter() - started)
    return times


# -- the report ---------------------------------------------------------------------------------
def p50_p99(samples: list[float]) -> str:
    return f"p50 {ms(percentile(samples, 0.5))}, p99 {ms(percentile(samples, 0.99))}"


def ack_rows(samples: dict[str, Sample], senders: int) -> list[Row]:
    bare = samples["bare"].acks
    bare_p99 = percentile(bare, 0.99)
    rows = []
    for kind, headline in (("status", " (headline)"), ("help", "")):
        p99 = percentile(samples[kind].acks, 0.99)
        rows.append(
            Row(
                f"/deploy {kind} ack, {senders} senders{headline}",
                p50_p99(samples[kind].acks),
                f"bare endpoint {p50_p99(bare)}",
                f"p99 ≤ 2× bare ({p99 / bare_p99:.1f}×), < 100 ms",
                p99 <= 2 * bare_p99 and p99 < 0.1,
            )
        )
    one = samples["help·1"].acks
    rows.append(
        Row(
            "/deploy help ack, 1 sender",
            p50_p99(one),
            f"bare endpoint {p50_p99(samples['bare·1'].acks)}",
        )
    )
    for kind in ("status", "help"):
        rows.append(Row(f"/deploy {kind}: answer at response_url", p50_p99(samples[kind].answers)))
    failed = ", ".join(f"{kind} {s.failures}" for kind, s in samples.items() if s.failures)
    rows.append(Row("failed requests or answers", failed or "none", "", "none", not failed))
    return rows


def click_rows(
    timings: list[ClickTiming], together: list[ClickTiming], raw: list[float]
) -> list[Row]:
    raw_text = f"raw SDK PATCH {ms(statistics.median(raw))} (p90 {ms(percentile(raw, 0.9))})"
    if not timings:
        return [Row("Roll back click → TM PATCH", "no click completed", raw_text, "", False)]
    switched = [t.switched for t in timings]
    median = statistics.median(switched)
    rows = [
        Row(
            f"Roll back click → TM PATCH ({len(timings)} clicks)",
            f"median {ms(median)}, p90 {ms(percentile(switched, 0.9))}",
            raw_text,
            "median < 250 ms",
            median < 0.25,
        ),
        Row(
            "  of which: click → signal, → 1st ARM call",
            f"median {ms(statistics.median(t.signalled for t in timings))}, "
            f"{ms(statistics.median(t.first_arm for t in timings))}",
        ),
    ]
    if together:
        worst = max(t.switched for t in together)
        median = statistics.median(t.switched for t in together)
        rows.append(
            Row(
                f"{len(together)} Roll back clicks at once → switch",
                f"median {ms(median)}, max {ms(worst)}",
            )
        )
    return rows


async def main(args: Args) -> int:
    started = time.perf_counter()
    notes: list[str] = []
    extra = extra_names(args.deployments)
    with FullCollections() as gcs:
        async with bench_stack(system=bench_system(extra), configure=configure(extra)) as stack:
            envs = stack.settings.config.environments
            names = list(envs)[: args.deployments]
            up = time.perf_counter()
            samples, together = await load_phase(stack, names, args, gcs, notes)
            await audit_quiet(stack)
            loaded = time.perf_counter()
            timings = await click_phase(stack, args.clicks, notes)
            clicked = time.perf_counter()
            raw = await raw_switch(stack.sandbox, envs["prod"])
            audit = await stack.services.store.audit.query(newest_first=False)
            verified = await stack.services.store.audit.verify()
            tracked = len(gc.get_objects())
    rows = ack_rows(samples, args.senders)
    pauses = gcs.pauses
    rows.append(
        Row(
            "full GC pauses inside timed chunks",
            f"{len(pauses)}, max {ms(max(pauses, default=0))} ({tracked:,} objects tracked)",
        )
    )
    rows += click_rows(timings, together, raw)
    rows.append(Row("peak RSS of the process", f"{peak_rss_mib():.0f} MiB"))
    rows.append(Row("audit rows written", f"{len(audit)}, chain ok={verified.ok}"))
    print(render(rows))
    top = collections.Counter(e.action for e in audit).most_common(6)
    notes.append("audit rows by action: " + ", ".join(f"{a} {n}" for a, n in top) + ", …")
    notes.append(
        f"{args.requests} requests per kind; time: start {up - started:.1f} s, load phase "
        f"{loaded - up:.1f} s, {args.clicks} clicks {clicked - loaded:.1f} s, "
        f"whole run {time.perf_counter() - started:.1f} s"
    )
    print("\n".join(f"- {note}" for note in notes))
    return 0


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--senders", type=int, default=Args.senders, help="concurrent senders")
    parser.add_argument("--requests", type=int, default=Args.requests, help="requests per kind")
    parser.add_argument(
        "--deployments", type=int, default=Args.deployments, help="deployments during the load"
    )
    parser.add_argument("--clicks", type=int, default=Args.clicks, help="Roll back clicks to time")
    ns = parser.parse_args()
    args = Args(ns.senders, ns.requests, ns.deployments, ns.clicks)
    if args.senders < 1 or args.requests < 2 or not 1 <= args.deployments <= 20 or args.clicks < 1:
        parser.error("need --senders >= 1, --requests >= 2, --deployments 1..20, --clicks >= 1")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
