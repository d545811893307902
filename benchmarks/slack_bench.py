"""`deploybot serve` under Slack load, measured from outside: acks, answers, Roll back clicks.

    python benchmarks/slack_bench.py [--senders 50] [--requests 400] [--deployments 5]
                                     [--clicks 10] [--breaches 3] [--starts 3]
                                     [--profile FILE]

Five processes on loopback: the Azure sandbox (benchmarks/_sandbox.py: the reference system
plus slotted apps for deployments beyond three), a Slack-compatible API
(benchmarks/_slack_api.py, which stamps every response_url post as it arrives), the bot as
`deploybot serve`, the baseline (benchmarks/_bare.py: bare Starlette on uvicorn with the
serve's settings) and this process, the load generator. Approvals 0, no freezes.

1. Start-up: ``--starts`` cold starts of serve, after one untimed start that creates the
   database: spawn → /healthz 200 (the process answers and its database does: the start-up
   target's "ready") and → /readyz 200 (database open, Slack auth.test and one Azure read
   answered), wall time and the CPU seconds serve had used at each; the bare process
   likewise. The project is byte-compiled first, as an installed bot is
   (``_processes.compile_project``). Idle RSS 2 s after ready, the Azure platform loaded.
   Beside them, the floor: the libraries serve is built on, imported ``--starts`` times in a
   fresh interpreter with none of the bot's code (``_floor.py``): wall and CPU to the end of
   the imports, and RSS then.
2. Load: ``--deployments`` blue-green deployments (watch window 150 s) run while signed
   ``/deploy help`` and ``/deploy status`` commands come from ``--senders`` concurrent senders,
   in two rounds: bare ack endpoint, bare answering endpoint, help, status. Per kind: the ack
   (the HTTP answer to the POST) and the answer (its arrival at response_url, stamped by the
   Slack API process against the send time; same machine, same wall clock), CPU seconds the
   serving process used per request (/proc, across the chunk and its answers) and its RSS.
3. Roll back → traffic switch. The deployments of part 2 are rolled back from their cards,
   all clicks at once; then ``--clicks`` times: deploy prod, wait for Watching, click Roll
   back and time until the sandbox answers the Traffic Manager PATCH (slot swap for slotted
   apps) after the click, read from the sandbox's ARM request log. Baseline: one raw SDK
   PATCH of the endpoint with its current values, from this process.
4. Breach → traffic switch, ``--breaches`` times: deploy prod, wait for Watching, make the new
   version unhealthy in the sandbox, and time from the watch's breach verdict (the
   ``seen_at`` of its ``health.verdict`` row: when the last failing check had answered, read
   from the bot's SQLite file) to the Traffic Manager PATCH that follows. The checks'
   interval and the failures in a row it takes are configuration; this is what the bot adds
   after them.
``--profile FILE``: py-spy samples the serve process during the load (collapsed stacks into
FILE, the top own-time frames printed); figures taken with it on are slower. Nothing here
asserts on time: PASS/MISS compares with the targets, and the exit status is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _arm import raw_patch
from _common import Row, ms, percentile, render
from _floor import LIBRARIES, library_floor
from _load import Chunk, LoadClient
from _processes import (
    Proc,
    Started,
    bot_env,
    compile_project,
    rss_mib,
    sandbox,
    slack_api,
    start_bare,
    start_serve,
)
from _profile import collapsed_top, py_spy

# Long enough that every deployment still watches when the load ends; the benchmark rolls
# them back from their cards then, so nobody waits the window out.
WATCH = "150s"


@dataclasses.dataclass(frozen=True)
class Args:
    senders: int = 50
    requests: int = 400
    deployments: int = 5
    clicks: int = 10
    breaches: int = 3
    starts: int = 3
    profile: Path | None = None


def tune(config: Path, out: Path) -> dict[str, Any]:
    mapping: dict[str, Any] = yaml.safe_load(config.read_text())
    mapping["freezes"] = []
    for env in mapping["environments"].values():
        env["approvals"] = {"required": 0}
        env.pop("requires", None)  # prod straight away: each round deploys a new version
        env["health"] = {
            **env.get("health", {}),
            "watch": WATCH,
            "watch_interval": "2s",
            "version_wait": "10s",
            "throughput": {"requests": 20, "concurrency": 5, "min_rps": 5},
        }
    out.write_text(yaml.safe_dump(mapping))
    return mapping


# -- the report ---------------------------------------------------------------------------------
def p50_p99(samples: list[float]) -> str:
    return (
        f"p50 {ms(percentile(samples, 0.5))}, p99 {ms(percentile(samples, 0.99))}, "
        f"max {ms(max(samples, default=float('nan')))}"
    )


def load_rows(chunks: dict[str, Chunk], senders: int) -> list[Row]:
    bare, answered = chunks["bare"], chunks["bare answering"]
    bare_p99 = percentile(bare.acks, 0.99)
    rows = []
    for kind in ("status", "help"):
        ours = chunks[kind]
        p99 = percentile(ours.acks, 0.99)
        rows.append(
            Row(
                f"/deploy {kind} ack, {senders} senders",
                p50_p99(ours.acks),
                f"bare {p50_p99(bare.acks)}",
                f"p99 ≤ 1.5× bare ({p99 / bare_p99:.2f}×)",
                p99 <= 1.5 * bare_p99,
            )
        )
        p99 = percentile(ours.answers, 0.99)
        rows.append(
            Row(
                f"/deploy {kind} answer at response_url",
                p50_p99(ours.answers),
                f"bare answering {p50_p99(answered.answers)}",
                "p99 < 300 ms",
                p99 < 0.3,
            )
        )
        rows.append(
            Row(
                f"/deploy {kind} CPU per request",
                f"{ours.cpu_per_request * 1000:.2f} ms",
                f"bare {bare.cpu_per_request * 1000:.2f} ms, answering "
                f"{answered.cpu_per_request * 1000:.2f} ms",
            )
        )
    failed = ", ".join(f"{kind} {c.failures}" for kind, c in chunks.items() if c.failures)
    rows.append(Row("failed requests or answers", failed or "none", "", "none", not failed))
    return rows


def click_rows(
    sequential: list[float], together: list[float], raw: list[float], wakes: list[float]
) -> list[Row]:
    raw_text = f"raw SDK PATCH median {ms(statistics.median(raw))}" if raw else "no raw PATCH"
    rows = []
    if sequential:
        median = statistics.median(sequential)
        rows.append(
            Row(
                f"Roll back click → TM PATCH ({len(sequential)} clicks)",
                f"median {ms(median)}, p90 {ms(percentile(sequential, 0.9))}, "
                f"max {ms(max(sequential))}",
                raw_text,
                "median < 50 ms",
                median < 0.05,
            )
        )
        if wakes:
            first = f"median {ms(statistics.median(wakes))}"
            rows.append(Row("  of which click → first ARM request (any)", first))
    else:
        rows.append(Row("Roll back click → TM PATCH", "no click completed", raw_text, "", False))
    if together:
        median = statistics.median(together)
        rows.append(
            Row(
                f"{len(together)} Roll back clicks at once → switch",
                f"median {ms(median)}, max {ms(max(together))}",
                raw_text,
                "median < 100 ms",
                median < 0.1,
            )
        )
    return rows


def breach_rows(breached: list[float], raw: list[float]) -> list[Row]:
    if not breached:
        return [Row("health breach → TM PATCH", "no breach completed")]
    raw_text = f"raw SDK PATCH median {ms(statistics.median(raw))}" if raw else "no raw PATCH"
    median = ms(statistics.median(breached))
    return [
        Row(
            f"health breach verdict → TM PATCH ({len(breached)} breaches)",
            f"median {median}, max {ms(max(breached))}",
            raw_text,
        )
    ]


def startup_rows(serve: list[Started], bare: Started) -> list[Row]:
    """Wall and CPU to /healthz (the target's "ready") and to /readyz, median of the starts."""
    rows = []
    for label, wall, cpu, what in (
        ("/healthz", [s.healthz_s for s in serve], [s.healthz_cpu_s for s in serve],
         "process and database answer"),
        ("/readyz", [s.readyz_s for s in serve], [s.readyz_cpu_s for s in serve],
         "database, Slack and Azure answered"),
    ):  # fmt: skip
        median = statistics.median(wall)
        rows.append(
            Row(
                f"serve start-up to {label} ({what}; {len(serve)} starts)",
                f"best {ms(min(wall))}, median {ms(median)}; "
                f"CPU median {ms(statistics.median(cpu))}",
                f"bare {ms(bare.readyz_s)}, CPU {ms(bare.readyz_cpu_s)}",
                "< 1 s",
                median < 1.0,
            )
        )
    return rows


# -- the run ------------------------------------------------------------------------------------
async def main(args: Args) -> int:
    compile_project()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slack-bench-") as scratch:
        folder = Path(scratch)
        extra = max(0, args.deployments - 3)
        async with sandbox(folder, extra) as sb, slack_api(folder) as slack:
            config = folder / "bench.yml"
            names = list(tune(sb.config, config)["environments"])[: args.deployments]
            env = bot_env(folder, sb.env, slack.url)
            await (await start_serve(folder, config, env)).proc.stop()  # creates the database
            starts = []
            for _ in range(args.starts):
                started = await start_serve(folder, config, env)
                starts.append(started)
                await started.proc.stop()
            started, bare = (
                await start_serve(folder, config, env),
                await start_bare(folder, slack.url),
            )
            rows = startup_rows(starts, bare)
            floor = await asyncio.to_thread(library_floor, args.starts)
            rows.append(
                Row(f"  the libraries alone ({len(LIBRARIES)} imports, fresh interpreter)",
                    f"median {ms(floor.wall_s)}; CPU median {ms(floor.cpu_s)}")
            )  # fmt: skip
            async with contextlib.AsyncExitStack() as stack:
                stack.push_async_callback(started.proc.stop)
                stack.push_async_callback(bare.proc.stop)
                bot = started.proc
                await asyncio.sleep(2)
                idle = rss_mib(bot.pid), rss_mib(bare.proc.pid)
                rows.append(
                    Row("RSS idle (Azure platform loaded)", f"{idle[0]:.0f} MiB",
                        f"bare {idle[1]:.0f} MiB", "< 120 MB", idle[0] * 1.048576 < 120)
                )  # fmt: skip
                rows.append(Row("  the libraries alone", f"{floor.rss_mib:.0f} MiB"))
                client = await stack.enter_async_context(
                    LoadClient(bot.url, slack.url, sb.admin_url, sb.env)
                )
                chunks, together, peak = await load_phase(
                    client, bot, bare.proc, names, args, notes
                )
                rows += load_rows(chunks, args.senders)
                rows.append(
                    Row("RSS under load (peak)", f"{peak:.0f} MiB",
                        f"bare {rss_mib(bare.proc.pid, 'VmHWM'):.0f} MiB")
                )  # fmt: skip
                sequential, wakes = await click_phase(client, args.clicks, notes)
                breached = await breach_phase(client, args.breaches, folder, notes)
                raw = await raw_patch(sb.env)
                rows += click_rows(sequential, together, raw, wakes)
                rows += breach_rows(breached, raw)
    # Wall times on a shared machine follow its load; CPU seconds much less so.
    notes.append(
        f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(render(rows))
    print("\n".join(f"- {note}" for note in notes))
    return 0


async def load_phase(
    client: LoadClient, bot: Proc, bare: Proc, names: list[str], args: Args, notes: list[str]
) -> tuple[dict[str, Chunk], list[float], float]:
    cards = {name: await client.deploy(name, f"v3.{i}.0") for i, name in enumerate(names, 1)}
    half = (args.requests + 1) // 2
    plan: list[tuple[str, Proc, str, str]] = []
    for _ in range(2):
        plan += [
            ("bare", bare, "/slack/events", "help"),
            ("bare answering", bare, "/slack/answered", "help"),
            ("help", bot, "/slack/events", "help"),
            ("status", bot, "/slack/events", "status"),
        ]
    chunks: dict[str, Chunk] = {}
    peak = 0.0
    profiling = py_spy(bot.pid, args.profile) if args.profile else contextlib.nullcontext()
    async with profiling:
        for n, (label, proc, path, text) in zip(
            [half] * 4 + [args.requests - half] * 4, plan, strict=True
        ):
            chunk = await client.chunk(label, proc, path, text, n, args.senders)
            chunks.setdefault(label, Chunk()).add(chunk)
            peak = max(peak, rss_mib(bot.pid, "VmHWM"))
    if args.profile:
        notes.append(
            "py-spy top own time in serve during the load:\n" + collapsed_top(args.profile)
        )
    states = await client.states(cards)
    notes.append(f"deployments when the load ended: {states}")
    together = await client.roll_back_all(cards)
    if len(together) < len(cards):
        notes.append(f"only {len(together)} of {len(cards)} deployments could be rolled back")
    return chunks, together, peak


async def click_phase(
    client: LoadClient, clicks: int, notes: list[str]
) -> tuple[list[float], list[float]]:
    switched, first = [], []
    for i in range(1, clicks + 1):
        try:
            card = await client.deploy("prod", f"v2.{i}.0")
            timing = await client.roll_back_when_watching(card)
        except (TimeoutError, aiohttp.ClientError) as error:
            notes.append(f"click {i}: {type(error).__name__} {str(error)[:100]}")
            continue
        if timing is None:
            notes.append(f"click {i}: the deployment ended before it offered Roll back")
            continue
        switched.append(timing[1])
        first.append(timing[0])
        await client.ended(card)
    return switched, first


async def breach_phase(
    client: LoadClient, breaches: int, folder: Path, notes: list[str]
) -> list[float]:
    found = []
    for i in range(1, breaches + 1):
        version = f"v5.{i}.0"
        try:
            card = await client.deploy("prod", version)
            seconds = await client.breach_when_watching(card, version, folder / "deploybot.db")
        except (TimeoutError, aiohttp.ClientError) as error:
            notes.append(f"breach {i}: {type(error).__name__} {str(error)[:100]}")
            continue
        if seconds is None:
            notes.append(f"breach {i}: the deployment ended before it watched")
            continue
        found.append(seconds)
        notes.append(f"breach {i}: the card ended {await client.ended(card)}")
    return found


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--senders", type=int, default=Args.senders, help="concurrent senders")
    parser.add_argument("--requests", type=int, default=Args.requests, help="requests per kind")
    parser.add_argument("--deployments", type=int, default=Args.deployments)
    parser.add_argument("--clicks", type=int, default=Args.clicks, help="Roll back clicks to time")
    parser.add_argument("--breaches", type=int, default=Args.breaches, help="breaches to time")
    parser.add_argument("--starts", type=int, default=Args.starts, help="cold starts to time")
    parser.add_argument("--profile", type=Path, help="py-spy the serve process into FILE")
    ns = parser.parse_args()
    args = Args(
        ns.senders, ns.requests, ns.deployments, ns.clicks, ns.breaches, ns.starts, ns.profile
    )
    if args.senders < 1 or args.requests < 2 or not 1 <= args.deployments <= 20 or args.starts < 1:
        parser.error("need --senders >= 1, --requests >= 2, --deployments 1..20, --starts >= 1")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
