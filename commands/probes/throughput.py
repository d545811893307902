"""A short burst: N requests at concurrency C, held against a minimum request rate."""

from __future__ import annotations

import asyncio

import httpx

from commands.config.model import Throughput
from commands.probes.http import Timer, probe
from commands.probes.results import CheckResult


async def throughput_check(
    http: httpx.AsyncClient,
    url: str,
    settings: Throughput,
    *,
    timeout_s: float,
    timer: Timer,
) -> CheckResult:
    remaining = settings.requests
    failures: list[str] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await probe(http, url, timeout_s=timeout_s, timer=timer)
            if not result.ok_status:
                failures.append(result.describe())

    started = timer()
    async with asyncio.TaskGroup() as group:
        for _ in range(min(settings.concurrency, settings.requests)):
            group.create_task(worker())
    elapsed_s = max(timer() - started, 1e-9)
    rps = settings.requests / elapsed_s
    ok = not failures and rps >= settings.min_rps
    detail = (
        f"{settings.requests} requests at concurrency {settings.concurrency} in "
        f"{elapsed_s:.2f} s: {rps:.0f} req/s (min {settings.min_rps:g})"
    )
    if failures:
        detail += f"; {len(failures)} failed (first: {failures[0]})"
    return CheckResult(
        "throughput", ok, detail, round(rps, 1), settings.min_rps, round(elapsed_s * 1000.0, 1)
    )
