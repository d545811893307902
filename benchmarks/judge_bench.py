"""Canary judge benchmark: CPU per analysis interval for 50 concurrent canaries.

    python benchmarks/judge_bench.py [--canaries N] [--rounds R] [--stage-intervals K]

Each round builds one interval's MetricSeries for every canary and its baseline (2 × N), then
feeds them to N ``StageJudge``s. The cost of building the inputs alone is measured the same way
and printed beside it, so the judge's own share is the difference. The stage's end (the
Mann-Whitney comparison over K per-interval values per metric) runs once per stage, not per
interval, and is timed on its own. Times are ``time.process_time`` (CPU, not wall clock).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.canary.judge import StageJudge
from commands.config.model import RollbackRules
from commands.platform.state import MetricSeries

START = datetime(2026, 12, 1, tzinfo=UTC)
INTERVAL = timedelta(seconds=30)
SHARE = 0.05


def _interval(rng: random.Random, n: int) -> tuple[MetricSeries, MetricSeries]:
    """One interval of a canary at 5 % and its baseline: the same error rate (~0.15 %) and
    latency (180-220 ms), with noise."""
    start = START + n * INTERVAL

    def side(target: str, requests: float, errors: float) -> MetricSeries:
        return MetricSeries(
            source="prometheus",
            target=target,
            start=start,
            end=start + INTERVAL,
            requests=requests,
            errors=errors,
            latency_ms=180 + rng.random() * 40,
            latency_kind="p95",
        )

    return (
        side("canary", 95 + rng.random() * 10, rng.random() * 0.3),
        side("baseline", 1900 + rng.random() * 50, rng.random() * 6),
    )


def _cpu(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def _stage_end(rules: RollbackRules, canaries: int, intervals: int) -> None:
    """Time N judges deciding a stage of ``intervals`` observed intervals."""
    rng = random.Random(2)
    judges = [StageJudge(rules, share=SHARE, extensions_left=3) for _ in range(canaries)]
    for n in range(intervals):
        for judge in judges:
            judge.observe(*_interval(rng, n))
    started = time.process_time()
    verdicts = Counter(judge.at_stage_end().verdict.value for judge in judges)
    spent = time.process_time() - started
    print(
        f"stage end, {intervals:>3} intervals per side (N × at_stage_end): "
        f"{spent * 1e3:8.3f} ms, {spent / canaries * 1e6:8.1f} µs per canary, "
        f"verdicts {dict(verdicts)}"
    )


@dataclass(frozen=True)
class JudgeCost:
    """CPU seconds per interval for N canaries: building the inputs alone, and with judging."""

    canaries: int
    inputs_s: float
    total_s: float

    @property
    def judging_s(self) -> float:
        return self.total_s - self.inputs_s


def measure(canaries: int, rounds: int) -> JudgeCost:
    rules = RollbackRules()

    def inputs_only() -> None:
        rng = random.Random(1)
        for n in range(rounds):
            for _ in range(canaries):
                _interval(rng, n)

    def inputs_and_judging() -> None:
        rng = random.Random(1)
        judges = [StageJudge(rules, share=SHARE, extensions_left=3) for _ in range(canaries)]
        for n in range(rounds):
            for judge in judges:
                judge.observe(*_interval(rng, n))

    return JudgeCost(canaries, _cpu(inputs_only) / rounds, _cpu(inputs_and_judging) / rounds)


def run(canaries: int, rounds: int, stage_intervals: int) -> int:
    print(f"{canaries} canaries at {SHARE:.0%}, {rounds} intervals each, CPU time per interval")
    cost = measure(canaries, rounds)
    baseline, total, judging = cost.inputs_s, cost.total_s, cost.judging_s
    print(f"{'measure':<54} {'per interval':>14} {'per canary':>12}")
    print(f"{'build 2 × N MetricSeries (the inputs, baseline figure)':<54}", end="")
    print(f" {baseline * 1e3:11.3f} ms {baseline / canaries * 1e6:9.1f} µs")
    print(f"{'build inputs + N × StageJudge.observe':<54}", end="")
    print(f" {total * 1e3:11.3f} ms {total / canaries * 1e6:9.1f} µs")
    print(f"{'the judge alone (difference)':<54}", end="")
    print(f" {judging * 1e3:11.3f} ms {judging / canaries * 1e6:9.1f} µs")
    print(f"share of one {INTERVAL.total_seconds():.0f} s interval on one core: ", end="")
    print(f"{judging / INTERVAL.total_seconds():.4%}")

    for intervals in sorted({4, stage_intervals, 4 * stage_intervals}):
        _stage_end(RollbackRules(), canaries, intervals)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--canaries", type=int, default=50, help="concurrent canaries")
    parser.add_argument("--rounds", type=int, default=400, help="intervals fed to each judge")
    parser.add_argument(
        "--stage-intervals",
        type=int,
        default=20,
        help="intervals in a stage for the stage-end timing (10 min at 30 s = 20)",
    )
    args = parser.parse_args(argv)
    if min(args.canaries, args.rounds, args.stage_intervals) < 1:
        parser.error("--canaries, --rounds and --stage-intervals must be >= 1")
    return run(args.canaries, args.rounds, args.stage_intervals)


if __name__ == "__main__":
    raise SystemExit(main())
