"""Start-up of `deploybot serve` and `deploybot sandbox`, each as its own process, beside a bare
Starlette process started the same way.

    python benchmarks/serve_bench.py [--starts 5]

Per process: wall time from spawn to ready (serve: /healthz 200 — the process answers and its
database does — and /readyz 200, ready meaning database open, Slack auth.test and one Azure
read answered; sandbox: its ready line; bare: /readyz) and the CPU seconds it used until then
(/proc; on a machine shared with other work the CPU figure moves much less than the wall
time), best and median of ``--starts``; RSS once ready. The project is byte-compiled first,
as an installed bot is (``_processes.compile_project``). The Slack API
(benchmarks/_slack_api.py) and the sandbox serve run in their own processes. For where the
time goes: ``python -X importtime -m bot serve …``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import Row, render
from _processes import (
    base_env,
    bot_env,
    compile_project,
    cpu_seconds,
    line_with,
    rss_mib,
    sandbox,
    slack_api,
    spawn,
    start_bare,
    start_serve,
)

Sample = tuple[float, float, float]  # wall to ready, CPU to ready, RSS once ready


async def serve_once(folder: Path, config: Path, env: dict[str, str]) -> tuple[Sample, Sample]:
    """(to /readyz, to /healthz) samples of one start."""
    started = await start_serve(folder, config, env)
    rss = rss_mib(started.proc.pid)
    ready = (started.readyz_s, started.readyz_cpu_s, rss)
    healthy = (started.healthz_s, started.healthz_cpu_s, rss)
    await started.proc.stop()
    return ready, healthy


async def sandbox_once(folder: Path) -> Sample:
    began = time.perf_counter()
    proc = await spawn(["-m", "bot", "sandbox", "--load", "0"], base_env(), folder)
    await line_with(proc, "Sandbox ready")
    sample = (time.perf_counter() - began, cpu_seconds(proc.pid), rss_mib(proc.pid))
    await proc.stop()
    return sample


async def bare_once(folder: Path, slack: str) -> Sample:
    started = await start_bare(folder, slack)
    sample = (started.readyz_s, started.readyz_cpu_s, rss_mib(started.proc.pid))
    await started.proc.stop()
    return sample


def summary(samples: list[Sample]) -> str:
    wall, cpu = [s[0] for s in samples], [s[1] for s in samples]
    return (
        f"wall best {min(wall) * 1000:.0f} ms, median {statistics.median(wall) * 1000:.0f} ms; "
        f"CPU median {statistics.median(cpu) * 1000:.0f} ms; RSS {samples[-1][2]:.0f} MiB"
    )


async def main(starts: int) -> int:
    compile_project()
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as scratch:
        folder = Path(scratch)
        async with sandbox(folder, 0) as sb, slack_api(folder) as slack:
            env = bot_env(folder, sb.env, slack.url)
            await serve_once(folder, sb.config, env)  # creates the database: not timed
            serve, healthz = [], []
            for _ in range(starts):
                sample, healthy = await serve_once(folder, sb.config, env)
                serve.append(sample)
                healthz.append(healthy)
            sandboxes = [await sandbox_once(folder) for _ in range(starts)]
            bare = [await bare_once(folder, slack.url) for _ in range(starts)]
    median_ready = statistics.median(s[0] for s in serve)
    median_healthy = statistics.median(s[0] for s in healthz)
    rows = [
        Row("deploybot serve to /healthz", summary(healthz), "bare: " + summary(bare), "< 1 s",
            median_healthy < 1.0),
        Row("deploybot serve to /readyz", summary(serve), "bare: " + summary(bare), "< 1 s",
            median_ready < 1.0),
        Row("deploybot sandbox to its ready line", summary(sandboxes), "bare: " + summary(bare)),
        Row("idle RSS of serve once ready", f"{serve[-1][2]:.0f} MiB",
            f"bare {bare[-1][2]:.0f} MiB", "< 120 MB", serve[-1][2] * 1.048576 < 120),
    ]  # fmt: skip
    print(render(rows))
    # Wall times on a shared machine follow its load; CPU seconds much less so.
    print(f"- load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--starts", type=int, default=5, help="timed starts of each process")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(max(1, args.starts))))
