"""The audit log at scale, SQLite and PostgreSQL side by side in one run:

    python benchmarks/audit_scale_bench.py [--rows 1000000] [--append-rows 2000] [--no-postgres]
                                           [--repeat 3] [--baseline REF | --no-baseline]

1. Appends through the real ``AuditLog.append`` (durable on return, group-committed) by 1, 20
   and 200 concurrent writers, ``--append-rows`` rows each time.
2. The log is then topped up to ``--rows`` keyed rows (chain encoding 2, a MAC per row, as a
   keyed deploybot writes them) with bulk inserts, and ``deploybot audit verify``'s walk is
   timed over all of them: the plain chain, and key + checkpoint, ``--repeat`` times each
   (interleaved; the figure is the median, with the fastest and slowest run beside it: the
   first walk after the bulk load runs ~25 % slower than the next). Target: 1 M rows in 5 s.
   Beside each, the same verify with ``storage/`` as it was at ``--baseline`` (by default the
   commit before verify read rows through the standard driver in one inlined loop), run in a
   child process on the same database (``_verify_baseline``).
3. ``/deploy history`` at that size: the query it makes (newest finished deployments of one
   environment, and of all), and on SQLite the whole command through the real bot over HTTP
   (signed slash command in, ephemeral answer out at its response_url).

PostgreSQL is a throw-away cluster (``tests/postgres_server.py``); where it is not installed
its column says "n/a" and why. Wall time on a shared machine depends on its load, so each
verify line also shows the CPU seconds used (this process and its verify worker, user + sys)
and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.exc import SQLAlchemyError

import storage
from benchmarks._audit_log import ACTIONS, FINISHED, postgres, top_up
from benchmarks._common import FullCollections, ms, percentile, timed_chunk
from benchmarks._verify_baseline import DEFAULT_REF, BaselineUnavailable, verify_baseline
from commands import eventloop

WRITERS = (1, 20, 200)
VERIFY_TARGET_S = 5.0
TARGET_ROWS = 1_000_000
HISTORY_TARGET_S = 0.1  # the query; the command's answer adds Slack's round trips
KEY_TEXT = "benchmark-audit-key-" + "k" * 32
KEY = storage.AuditKey.from_text(KEY_TEXT)


@dataclass
class Column:
    """One database's figures, keyed by measure; ``missing`` says why there are none."""

    name: str
    figures: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, bool] = field(default_factory=dict)
    missing: str | None = None


# -- appends -----------------------------------------------------------------------------------
async def appends(store: storage.Store, writers: int, rows: int) -> float:
    """Rows per second ``writers`` concurrent writers append between them."""

    async def writer(w: int) -> None:
        for n in range(w, rows, writers):
            await store.audit.append(
                f"U0WRITER{w}", ACTIONS[n % len(ACTIONS)], environment="prod",
                deployment_id=f"d-{n // 25}", details={"n": n, "version": f"v1.{n % 50}.0"},
            )  # fmt: skip

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return rows / (time.perf_counter() - started)


async def verify(
    store: storage.Store, keyring: storage.Keyring | None, checkpoint: storage.Checkpoint | None
) -> tuple[storage.VerifyResult, float, float]:
    """The result, wall seconds and CPU seconds of one whole-chain verify (this process and
    the worker that walks the second half of a large SQLite log)."""
    wall, cpu = time.perf_counter(), _cpu()
    result = await store.audit.verify(
        keyring=keyring, checkpoints=[checkpoint] if checkpoint else []
    )
    return result, time.perf_counter() - wall, _cpu() - cpu


def verify_figure(rows: int, runs: list[tuple[float, float]]) -> str:
    """The median run of (wall s, cpu s) ``runs``, with the fastest and slowest beside it."""
    walls = sorted(wall for wall, _ in runs)
    wall = statistics.median(walls)
    cpu = statistics.median(cpu for _, cpu in runs)
    load = os.getloadavg()[0]
    spread = f", {walls[0]:.2f}-{walls[-1]:.2f} s in {len(runs)} runs" if len(runs) > 1 else ""
    return f"{rows / wall:,.0f} rows/s, {wall:.2f} s{spread} (cpu {cpu:.2f} s, load {load:.1f})"


async def baseline(
    ref: str | None, url: str, rows: int, point: storage.Checkpoint, repeat: int
) -> dict[str, str] | None:
    """The verify figures of ``storage/`` at ``ref`` on this database, by measure."""
    if ref is None:
        return None
    labels = {"plain": "verify, plain chain", "keyed": "verify, key + checkpoint"}
    try:
        found = await verify_baseline(
            ref, url, KEY_TEXT, (point.seq, point.hash, point.mac), repeat
        )
    except BaselineUnavailable as error:
        return dict.fromkeys(labels.values(), f"n/a ({error})")
    figures = {}
    for name, runs in found.items():
        good = all(ok and checked == rows for ok, checked, _, _ in runs)
        timings = [(wall, cpu) for _, _, wall, cpu in runs]
        figures[labels[name]] = verify_figure(rows, timings) if good else "failed to verify"
    return figures


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers once they have ended
    return time.process_time() + children.ru_utime + children.ru_stime


async def query_latency(run: Callable[[], Awaitable[object]], times: int = 50) -> list[float]:
    waits = []
    for _ in range(times):
        started = time.perf_counter()
        await run()
        waits.append(time.perf_counter() - started)
    return waits


# -- one database ------------------------------------------------------------------------------
async def measure(
    column: Column,
    url: str,
    rows: int,
    append_rows: int,
    environments: list[str],
    baseline_ref: str | None,
    repeat: int,
) -> None:
    figures, verdicts = column.figures, column.verdicts
    async with storage.Store.open(url, audit_keys=storage.Keyring(KEY)) as store:
        for writers in WRITERS:
            rate = await appends(store, writers, append_rows)
            figures[f"append, {writers} writer(s)"] = f"{rate:,.0f} rows/s"
        took = await top_up(store, KEY, rows, environments)
        figures[f"bulk top-up to {rows:,} rows"] = f"{took:.1f} s"
        last = (await store.audit.query(limit=1))[0]
        point = storage.Checkpoint(last.seq, last.hash, last.mac)
        before = await baseline(baseline_ref, url, rows, point, repeat)
        kinds = (
            ("verify, plain chain", None, None),
            ("verify, key + checkpoint", storage.Keyring(KEY), point),
        )
        runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in kinds}
        for _ in range(repeat):  # interleaved: a busy moment does not fall on one kind only
            for label, keyring, checkpoint in kinds:
                result, wall, cpu = await verify(store, keyring, checkpoint)
                if not result.ok or result.checked != rows:
                    raise SystemExit(f"{column.name}: verify failed: {result.problem}")
                runs[label].append((wall, cpu))
        for label, timings in runs.items():
            figures[label] = verify_figure(rows, timings)
            if rows >= TARGET_ROWS:  # the target is for a million rows, not fewer
                verdicts[label] = statistics.median(w for w, _ in timings) < VERIFY_TARGET_S
            if before is not None:
                figures[f"{label}, baseline {baseline_ref}"] = before[label]
        env = environments[0]
        for label, run in (
            (f"history query, {env} (p50/p99)", lambda: store.audit.query(
                environment=env, actions=[FINISHED], limit=10)),
            ("history query, every env (p50/p99)", lambda: store.audit.query(
                actions=[FINISHED], limit=10)),
        ):  # fmt: skip
            waits = await query_latency(run)
            figures[label] = f"{ms(percentile(waits, 0.5))} / {ms(percentile(waits, 0.99))}"
            verdicts[label] = percentile(waits, 0.99) < HISTORY_TARGET_S


async def history_command(column: Column, url: str, times: int) -> None:
    """``/deploy history <env>`` through the real bot over HTTP, on the million-row log."""
    import aiohttp

    from bot.local import local_bot, local_settings, local_world
    from bot.settings import Secret

    async with contextlib.AsyncExitStack() as stack:
        world = await stack.enter_async_context(local_world())
        settings = local_settings(world)
        keyed = dataclasses.replace(settings.runtime, audit_key=Secret(KEY_TEXT))
        settings = dataclasses.replace(settings, runtime=keyed)  # the log is keyed
        env = sorted(settings.config.environments)[0]
        bot = await stack.enter_async_context(local_bot(world, settings, url))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        sample = await timed_chunk(
            http, bot, f"{bot.url}/slack/events", f"history {env}", times, 1, FullCollections()
        )
    label = "/deploy history command, answer (p50/p99)"
    if sample.failures or not sample.answers:
        column.figures[label] = f"{sample.failures} of {times} failed"
        column.verdicts[label] = False
        return
    column.figures[label] = (
        f"{ms(percentile(sample.answers, 0.5))} / {ms(percentile(sample.answers, 0.99))}"
    )


async def environments_of_the_bot() -> list[str]:
    from bot.local import local_settings, local_world

    async with local_world() as world:
        return sorted(local_settings(world).config.environments)


async def run(args: argparse.Namespace) -> int:
    environments = await environments_of_the_bot()
    sqlite, pg = Column("SQLite"), Column("PostgreSQL")
    with tempfile.TemporaryDirectory(prefix="audit-scale-") as scratch:
        url = storage.default_database_url(Path(scratch))
        await measure(
            sqlite, url, args.rows, args.append_rows, environments, args.baseline, args.repeat
        )
        await history_command(sqlite, url, args.commands)
    if args.no_postgres:
        pg.missing = "skipped (--no-postgres)"
    else:
        folder = Path(tempfile.mkdtemp(prefix="deploybot-pg-bench-"))
        async with postgres(folder) as pg_url:
            if pg_url is None:
                pg.missing = "PostgreSQL is not installed here"
            else:
                try:
                    await measure(
                        pg, pg_url, args.rows, args.append_rows, environments, args.baseline,
                        args.repeat,
                    )  # fmt: skip
                except (storage.StorageError, SQLAlchemyError, OSError) as error:
                    # Say so in the table rather than lose SQLite's figures with a traceback.
                    pg.missing = f"failed on PostgreSQL: {str(error).splitlines()[0]}"
        pg.figures.setdefault(
            "/deploy history command, answer (p50/p99)",
            "n/a (the bot on PostgreSQL: see the replicas work)",
        )
    print(table(sqlite, pg))
    return 0


def table(sqlite: Column, pg: Column) -> str:
    """One line per measure: SQLite and PostgreSQL side by side, the target, PASS/MISS."""
    lines = [("measure", "SQLite", "PostgreSQL", "target", "")]
    for name, measured in sqlite.figures.items():
        other = f"n/a ({pg.missing})" if pg.missing else pg.figures.get(name, "n/a")
        target = ""
        if name.startswith("verify"):
            target = f"< {VERIFY_TARGET_S:.0f} s"
        elif name.startswith("history query"):
            target = f"p99 < {HISTORY_TARGET_S * 1000:.0f} ms"
        verdicts = [c.verdicts[name] for c in (sqlite, pg) if name in c.verdicts]
        verdict = "" if not verdicts else ("PASS" if all(verdicts) else "MISS")
        lines.append((name, measured, other, target, verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]  # fmt: skip
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to verify")
    parser.add_argument("--append-rows", type=int, default=2_000, help="rows per writer count")
    parser.add_argument("--commands", type=int, default=30, help="/deploy history commands")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--repeat", type=int, default=3,
        help="verify runs of each kind (the median is the figure; default 3)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", default=DEFAULT_REF, metavar="REF",
        help=f"also verify with storage/ at this git commit (default {DEFAULT_REF}, the "
        "previous verify)",
    )  # fmt: skip
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_const", const=None, help="no baseline"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.rows < len(WRITERS) * args.append_rows or args.append_rows < 1:
        parser.error("--rows must hold the appended rows; --append-rows must be >= 1")
    return eventloop.run(run(args))  # the loop `deploybot audit verify` runs on


if __name__ == "__main__":
    raise SystemExit(main())
