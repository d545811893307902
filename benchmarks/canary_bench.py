"""Canary benchmark: from a fault to the rollback's traffic change, and the judge's CPU cost.

    python benchmarks/canary_bench.py [--runs 3] [--interval 1] [--consecutive-failures 1]

`deploybot sandbox` and `deploybot serve` run as their own processes (the production tests'
harness, with its Slack-compatible API); users keep about 100 requests a second on prod's public
host. Each run starts a canary at 20 %, waits a random part of an interval, makes the new
version answer 30 % of its API requests with 500s, and reads the sandbox's ARM request log for
the first Traffic Manager PATCH after that moment: the rollback's traffic change reaching Azure.
Printed next to the analysis interval, against the issue's target (interval + 1 s; with more
than one consecutive failure the judge waits that many intervals by design, and the target
grows with it). Then the judge's CPU per interval for 50 concurrent canaries
(``judge_bench.measure``), in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, render
from judge_bench import INTERVAL as JUDGE_INTERVAL
from judge_bench import measure

from tests.production.canary_helpers import canary, in_thread, traffic
from tests.production.conftest import Production, production
from tests.production.test_serve_restart import outcome

ERROR_RATE = 0.3


def configure(interval_s: float, consecutive: int) -> Any:
    def tune(config: dict[str, Any]) -> None:
        env = config["environments"]["prod"]
        env["approvals"] = {"required": 0, "approvers": ["leads"]}
        env["canary"] = {
            # One long stage: the breach, not the stage's end, decides.
            "stages": [{"percent": 20, "hold": "600s"}, {"percent": 100}],
            "interval": f"{interval_s:g}s",
            "max_extensions": 0,
            "metrics": {"source": "scrape"},
            "rollback": {
                "min_requests": 5,
                "max_error_rate": 0.05,
                "min_throughput_ratio": 0.5,
                "consecutive_failures": consecutive,
            },
        }

    return tune


async def arm_writes_after(prod: Production, after: datetime) -> list[datetime]:
    log = await prod.sandbox.admin("GET", "/admin/arm-requests?limit=200")
    return [
        at
        for r in log
        if r["method"] in ("PATCH", "PUT")
        and "/trafficmanagerprofiles/" in r["path"].lower()
        and (at := datetime.fromisoformat(r["at"])) > after
    ]


@dataclass(frozen=True)
class RunTiming:
    """Seconds from the fault to: the job deciding to roll back (its ``rolling_back`` state in
    the audit log), and the first Traffic Manager write the sandbox answered after it."""

    decided: float
    traffic_changed: float


def rolling_back_at(database: Path, deployment_id: str) -> datetime:
    with contextlib.closing(sqlite3.connect(database)) as db:
        for at, details in db.execute(
            "SELECT at, details FROM audit_events WHERE deployment_id = ? "
            "AND action = 'deployment.state' ORDER BY seq",
            (deployment_id,),
        ):
            if json.loads(details).get("state") == "rolling_back":
                return datetime.fromisoformat(at)
    raise AssertionError(f"{deployment_id} never went rolling_back")


async def one_run(prod: Production, n: int, interval_s: float, rng: random.Random) -> RunTiming:
    version = f"v2.0.{n}"
    card = await canary(prod, "prod", version)
    await prod.slack.wait_for(lambda: in_thread(prod, card, "Stage 1 of 2 started"), timeout=60)
    # A judged interval or two first, then the fault at a random point of an interval.
    await asyncio.sleep(2 * interval_s + rng.uniform(0, interval_s))
    injected = datetime.now(UTC)
    await prod.sandbox.admin(
        "POST", "/admin/faults/version", {"version": version, "error_rate": ERROR_RATE}
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not (writes := await arm_writes_after(prod, injected)):
        if loop.time() > deadline:
            raise AssertionError(f"run {n}: no rollback within 60 s: {card.plain()}")
        await asyncio.sleep(0.05)
    await prod.slack.wait_for(lambda: outcome(card), timeout=60)
    if outcome(card) != "Rolled back":
        raise AssertionError(f"run {n}: the canary ended {outcome(card)}: {card.plain()}")
    await prod.sandbox.admin("DELETE", "/admin/faults")
    deployment_id = card.plain().split("id `", 1)[1].split("`", 1)[0]
    decided = rolling_back_at(prod.database, deployment_id)
    return RunTiming((decided - injected).total_seconds(), (writes[0] - injected).total_seconds())


async def rollback_times(runs: int, interval_s: float, consecutive: int) -> list[RunTiming]:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="deploybot-canary-bench-") as scratch:
        async with (
            production(Path(scratch), tune=configure(interval_s, consecutive)) as prod,
            traffic(prod.sandbox, "prod"),
        ):
            times = []
            for n in range(1, runs + 1):
                took = await one_run(prod, n, interval_s, rng)
                print(
                    f"  run {n}: fault → rollback decided {took.decided:.2f} s → "
                    f"Traffic Manager PATCH {took.traffic_changed:.2f} s"
                )
                times.append(took)
            return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="faulted canaries, one after another")
    parser.add_argument("--interval", type=float, default=1.0, help="analysis interval, seconds")
    parser.add_argument("--consecutive-failures", type=int, default=1, dest="consecutive")
    parser.add_argument("--canaries", type=int, default=50, help="for the judge's CPU cost")
    parser.add_argument("--rounds", type=int, default=400, help="intervals fed to each judge")
    args = parser.parse_args(argv)
    if min(args.runs, args.consecutive, args.canaries, args.rounds) < 1 or args.interval <= 0:
        parser.error("--runs, --consecutive-failures, --canaries, --rounds must be >= 1")
    print(
        f"serve + sandbox as processes, {args.runs} run(s), interval {args.interval:g} s, "
        f"rollback after {args.consecutive} failing interval(s), fault: {ERROR_RATE:.0%} 500s"
    )
    timings = asyncio.run(rollback_times(args.runs, args.interval, args.consecutive))
    times = [t.traffic_changed for t in timings]
    acting = [t.traffic_changed - t.decided for t in timings]
    target = args.interval * args.consecutive + 1.0
    cost = measure(args.canaries, args.rounds)
    share = cost.judging_s / JUDGE_INTERVAL.total_seconds()
    rows = [
        Row(
            "fault → rollback's traffic change, median",
            f"{statistics.median(times):.2f} s",
            f"interval {args.interval:g} s",
            f"≤ {target:g} s",
            statistics.median(times) <= target,
        ),
        Row(
            "fault → rollback's traffic change, worst",
            f"{max(times):.2f} s",
            f"interval {args.interval:g} s",
            f"≤ {target:g} s",
            max(times) <= target,
        ),
        Row(
            "  of which: decided → traffic change, median",
            f"{statistics.median(acting):.2f} s",
        ),
        Row(
            f"judge CPU per interval, {cost.canaries} canaries",
            f"{cost.judging_s * 1e3:.2f} ms",
            f"inputs alone {cost.inputs_s * 1e3:.2f} ms",
            f"< 1 % of a {JUDGE_INTERVAL.total_seconds():.0f} s interval",
            share < 0.01,
        ),
    ]
    print(render(rows))
    # Detection needs min_requests canary requests in an interval: on a starved machine the
    # users' loop sends fewer, and the figures say more about the machine than the judge.
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"judge CPU share of one {JUDGE_INTERVAL.total_seconds():.0f} s interval: {share:.4%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
