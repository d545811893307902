"""A short burst: N requests at concurrency C, held against a minimum request rate.

The burst goes through aiohttp on C connections of its own, not the shared httpx client: it
is the probe a watching job sends most (20 requests every interval by default), and on
httpx's anyio transport each request cost ~2 ms of the event loop's CPU against ~0.3 ms here
(`python benchmarks/slack_bench.py --profile`: 19 % of serve's samples under load were these
bursts), time taken from the Slack answers that share the loop.
"""

from __future__ import annotations

import asyncio

import aiohttp

from commands.config.model import Throughput
from commands.probes.http import Timer
from commands.probes.results import CheckResult


async def throughput_check(
    url: str, settings: Throughput, *, timeout_s: float, timer: Timer
) -> CheckResult:
    remaining = settings.requests
    failures: list[str] = []

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            if (failure := await _get(http, url, timeout_s)) is not None:
                failures.append(failure)

    concurrency = min(settings.concurrency, settings.requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = timer()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker(http))
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


async def _get(http: aiohttp.ClientSession, url: str, within_s: float) -> str | None:
    """None for a 2xx answer; otherwise what went wrong, worded as the other probes word it."""
    try:
        limit = aiohttp.ClientTimeout(total=within_s)
        async with http.get(url, timeout=limit, allow_redirects=False) as answer:
            await answer.read()
            return None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    except TimeoutError:
        return f"no answer within {within_s:g} s"
    except aiohttp.ClientConnectorError as exc:
        return f"could not connect: {exc}"
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        return f"the connection broke: {exc}"
    except aiohttp.InvalidURL as exc:
        return f"invalid URL: {exc}"
    except aiohttp.ClientError as exc:
        return f"{type(exc).__name__}: {exc}"
