"""Platform cost against the raw SDK, sandbox start-up, and a 50-app fan-out.

    python benchmarks/platform_bench.py [--rounds N]

Starts the local Azure sandbox in-process (HTTPS, real aio SDK clients) and prints one table:
the median and p90 of each Platform operation next to the same raw SDK request(s) built with
identical client options (target: the Platform within 20 % of raw), the sandbox start-up time
(target < 2 s), the time to bring up a 50-app fleet, and reading 50 apps concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.identity.aio import ClientSecretCredential
from azure.mgmt.trafficmanager.models import Endpoint, EndpointProperties
from azure.mgmt.web.models import StringDictionary

from commands.config import config_from_mapping
from commands.platform.azure import AzurePlatform
from commands.platform.base import Deployable, TargetRef, targets_of
from commands.platform.clients import ClientOptions, SubscriptionClients, build_clients
from commands.platform.gather import gather_all
from commands.platform.sandbox import Sandbox, SandboxSystem

Op = Callable[[], Awaitable[Any]]


@dataclass
class Row:
    name: str
    measured: str
    baseline: str
    target: str
    passed: bool | None


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(op: Op) -> float:
    started = time.perf_counter()
    await op()
    return time.perf_counter() - started


async def compare(name: str, ours: Op, raw: Op, rounds: int) -> Row:
    """Interleave the two so drift in the machine hits both equally."""
    for _ in range(3):
        await ours()
        await raw()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        mine.append(await timed(ours))
        theirs.append(await timed(raw))
    m, r = statistics.median(mine), statistics.median(theirs)
    return Row(
        name,
        f"{m * 1000:.2f} ms (p90 {percentile(mine, 0.9) * 1000:.2f})",
        f"raw SDK {r * 1000:.2f} ms (p90 {percentile(theirs, 0.9) * 1000:.2f})",
        f"≤ raw + 20 % ({m / r - 1:+.0%})",
        m <= r * 1.2,
    )


def credential_for(sb: Sandbox) -> ClientSecretCredential:
    return ClientSecretCredential(
        sb.tenant_id,
        sb.client_id,
        sb.client_secret,
        authority=sb.authority_host,
        connection_verify=str(sb.ca_file),
    )


async def operation_rows(sb: Sandbox, rounds: int) -> list[Row]:
    envs = config_from_mapping(sb.config_mapping()).environments
    staging, prod = envs["staging"], envs["prod"]
    credential = credential_for(sb)
    platform = await AzurePlatform.create(
        credential, arm_url=sb.arm_url, ca_file=sb.ca_file, polling_interval=0
    )
    options = ClientOptions(arm_url=sb.arm_url, ca_file=Path(sb.ca_file), polling_interval_s=0)
    raw = build_clients(credential, staging.azure.subscription, options)
    try:
        return await _rows(platform, raw, staging, prod, rounds)
    finally:
        await raw.close()
        await platform.close()
        await credential.close()


async def _rows(
    platform: AzurePlatform, raw: SubscriptionClients, staging: Any, prod: Any, rounds: int
) -> list[Row]:
    web, tm, mon = raw.web.web_apps, raw.traffic, raw.monitor
    site, slot = targets_of(staging)["production"], targets_of(staging)["green"]
    rg, app = site.resource_group, site.app
    canary = targets_of(prod)["canary"]
    prg, profile = prod.azure.resource_group, prod.azure.traffic_manager
    versions = iter(f"v9.{i}.0" for i in range(1_000_000))

    async def raw_state() -> None:
        await gather_all(
            web.get(rg, app),
            web.list_application_settings(rg, app),
            web.get_slot(rg, app, "green"),
            web.list_application_settings_slot(rg, app, "green"),
            web.get_configuration(rg, app),
        )

    async def ours_put() -> None:
        version = next(versions)
        await platform.put_version(slot, Deployable(version, f"https://a/{version}.zip", None))

    async def raw_put() -> None:
        version = next(versions)
        current = await web.list_application_settings_slot(rg, app, "green")
        settings = dict(current.properties or {})
        settings.update(APP_VERSION=version, WEBSITE_RUN_FROM_PACKAGE=f"https://a/{version}.zip")
        await web.update_application_settings_slot(
            rg, app, "green", StringDictionary(properties=settings)
        )

    shares = iter([5.0, 25.0] * 1_000_000)

    async def ours_split() -> None:
        p = next(shares)
        await platform.set_split(prod, {"blue": 100 - p, "canary": p})

    async def raw_split() -> None:
        p = next(shares)
        await tm.profiles.get(prg, profile)
        for name, weight in (("blue", round((100 - p) * 10)), ("canary", round(p * 10))):
            patch = Endpoint(
                properties=EndpointProperties(weight=weight, endpoint_status="Enabled")
            )
            await tm.endpoints.update(prg, profile, "AzureEndpoints", name, patch)

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(minutes=10)

    async def ours_metrics() -> None:
        await platform.read_metrics(canary, start, end)

    async def raw_metrics() -> None:
        await mon.metrics.list(
            canary.resource_id,
            timespan=f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
            interval="PT1M",
            metricnames="Requests,Http5xx,HttpResponseTime",
            aggregation="Total,Average",
        )

    async def ours_state() -> None:
        await platform.read_state(staging)

    async def ours_tm_state() -> None:
        await platform.read_state(prod)

    async def raw_tm_state() -> None:
        apps = [ref.app for ref in targets_of(prod).values()]
        await gather_all(
            tm.profiles.get(prg, profile),
            *(
                call
                for a in apps
                for call in (web.get(prg, a), web.list_application_settings(prg, a))
            ),
        )

    return [
        await compare("read_state (slots)", ours_state, raw_state, rounds),
        await compare("read_state (traffic-manager)", ours_tm_state, raw_tm_state, rounds),
        await compare("put_version", ours_put, raw_put, rounds),
        await compare("set_split (TM, 2 weights)", ours_split, raw_split, rounds),
        await compare("read_metrics", ours_metrics, raw_metrics, rounds),
    ]


async def startup_row(runs: int = 3) -> Row:
    """The first start in the process (cold: certificates, first listeners) and warm ones."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        async with Sandbox.start(SandboxSystem.reference(), port=0):
            times.append(time.perf_counter() - started)
    cold, warm = times[0], statistics.median(times[1:])
    return Row(
        "sandbox start-up (reference system)",
        f"{cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms warm",
        "",
        "< 2 s",
        cold < 2.0,
    )


async def fleet_rows(n: int = 50) -> list[Row]:
    started = time.perf_counter()
    async with Sandbox.start(SandboxSystem.fleet(n), port=0) as sb:
        up = time.perf_counter() - started
        credential = credential_for(sb)
        platform = await AzurePlatform.create(
            credential, arm_url=sb.arm_url, ca_file=sb.ca_file, polling_interval=0
        )
        refs = [TargetRef("bench", "bench", f"bench-app-{i:03d}") for i in range(1, n + 1)]

        async def fan_out() -> None:
            await gather_all(*(platform.read_site(ref) for ref in refs))

        async def one_by_one() -> None:
            for ref in refs:
                await platform.read_site(ref)

        try:
            await fan_out()  # warm the connection pool
            concurrent = statistics.median([await timed(fan_out) for _ in range(5)])
            sequential = statistics.median([await timed(one_by_one) for _ in range(3)])
        finally:
            await platform.close()
            await credential.close()
    return [
        Row(f"bring up {n} apps (fleet({n}))", f"{up * 1000:.0f} ms", "", "< 2 s", up < 2.0),
        Row(
            f"read {n} apps concurrently",
            f"{concurrent * 1000:.0f} ms ({concurrent / n * 1000:.2f} ms/app)",
            f"one by one {sequential * 1000:.0f} ms",
            "< 1 s",
            concurrent < 1.0,
        ),
    ]


def render(rows: list[Row]) -> str:
    headers = ("measure", "deploybot", "baseline", "target", "")
    table = [headers] + [
        (
            r.name,
            r.measured,
            r.baseline,
            r.target,
            "" if r.passed is None else ("PASS" if r.passed else "MISS"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main(rounds: int) -> int:
    rows = [await startup_row()]
    async with Sandbox.start(SandboxSystem.reference(), port=0) as sb:
        rows += await operation_rows(sb, rounds)
    rows += await fleet_rows()
    print(render(rows))
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=200)
    sys.exit(asyncio.run(main(parser.parse_args().rounds)))
