"""The canary judge of one stage: guards every interval, a comparison with the baseline at the end.

The job makes one ``StageJudge`` per stage and feeds it each interval's canary and baseline
series (the same window) with the health checks failing on each side:

- ``observe`` answers continue, rollback (a guard failed ``consecutive_failures`` judged
  intervals in a row) or pause (a health check fails on both sides: a shared dependency is
  down, which is not the canary's fault, so nothing is counted against it).
- ``at_stage_end`` answers promote, rollback (the comparison found the canary worse than the
  baseline), extend (too few judged intervals, or a guard one failure short of firing) or, once
  the extensions are spent, pause with a question for the thread.

The judge keeps no clock and does no I/O. ``memory()`` is what it has seen, as the job stores
it with the stage; a judge made with that memory after a restart carries on where it was.
"""

from __future__ import annotations

from dataclasses import replace

from commands.canary import mannwhitney
from commands.canary.comparison import compare, regression_text
from commands.canary.guards import (
    Reading,
    error_rate_row,
    failure_text,
    health_row,
    latency_row,
    throughput_row,
)
from commands.canary.judgement import Judgement, Metric, Row, Verdict, percent
from commands.canary.memory import SAMPLED, JudgeMemory
from commands.config.model import RollbackRules
from commands.platform.state import MetricSeries

NO_FAILURES: frozenset[str] = frozenset()
GUARD_ORDER = (Metric.HEALTH, Metric.ERROR_RATE, Metric.LATENCY, Metric.THROUGHPUT)
"""When several guards fire in one interval, the rule names the first of these."""


class StageJudge:
    def __init__(
        self,
        rules: RollbackRules,
        *,
        share: float,
        extensions_left: int,
        memory: JudgeMemory | None = None,
    ) -> None:
        """``share``: the canary's share of traffic in this stage, more than 0 and at most 1.
        ``memory``: what a judge of this stage saw before a restart."""
        if not 0 < share <= 1:
            raise ValueError(f"share must be more than 0 and at most 1, got {share!r}")
        memory = memory or JudgeMemory()
        self.rules = rules
        self.share = share
        self.extensions_left = max(0, extensions_left)
        self.min_intervals = mannwhitney.min_sample_size(1 - rules.confidence)
        """Judged intervals a stage needs: the fewest with which the comparison can fail."""
        self.judged_intervals = memory.judged_intervals
        self._extensions_used = memory.extensions_used
        self._streaks = {m: memory.streaks.get(m, 0) for m in GUARD_ORDER}
        self._canary = {m: list(memory.canary.get(m, ())) for m in SAMPLED}
        self._baseline = {m: list(memory.baseline.get(m, ())) for m in SAMPLED}
        self._latency_label = memory.latency_label
        self._last_rows: tuple[Row, ...] = ()

    def memory(self) -> JudgeMemory:
        """What this judge has seen, for a judge made after a restart to carry on from."""
        return JudgeMemory(
            judged_intervals=self.judged_intervals,
            extensions_used=self._extensions_used,
            streaks=dict(self._streaks),
            canary={m: tuple(v) for m, v in self._canary.items()},
            baseline={m: tuple(v) for m, v in self._baseline.items()},
            latency_label=self._latency_label,
        )

    @property
    def has_baseline(self) -> bool:
        return self.share < 1

    def observe(
        self,
        canary: MetricSeries,
        baseline: MetricSeries,
        *,
        canary_failing: frozenset[str] = NO_FAILURES,
        baseline_failing: frozenset[str] = NO_FAILURES,
    ) -> Judgement:
        """Judge one interval; both series should cover the same window."""
        ours, theirs = Reading.of(canary), Reading.of(baseline)
        rows: tuple[Row, ...] = (
            error_rate_row(ours, theirs, self.rules),
            latency_row(ours, theirs, self.rules),
            throughput_row(ours, theirs, self.share, self.rules),
            health_row(canary_failing, baseline_failing),
        )
        shared = canary_failing & baseline_failing
        if shared:
            self._last_rows = rows
            names = ", ".join(sorted(shared))
            return Judgement(
                Verdict.PAUSE,
                f"shared dependency failing on canary and baseline: {names}",
                rows,
                question=(
                    f"{names} is failing on both the canary and the baseline, an outage the "
                    "new version did not cause, so the canary is paused and not rolled back. "
                    "Resume once it has recovered, or Abort."
                ),
            )
        rows = tuple(self._count(row) for row in rows)
        self._last_rows = rows
        self._sample(ours, theirs)
        for metric in GUARD_ORDER:
            row = next(r for r in rows if r.metric == metric)
            if self._streaks[metric] >= self.rules.consecutive_failures:
                text = failure_text(row, self.share, self.rules, canary_failing - baseline_failing)
                rule = f"{text} for {self._streak_text(metric)}"
                return Judgement(Verdict.ROLLBACK, rule, rows, metric=metric)
        return Judgement(Verdict.CONTINUE, None, rows)

    def at_stage_end(self) -> Judgement:
        """Decide the stage on everything observed since the judge was made."""
        failing = [m for m in GUARD_ORDER if self._streaks[m]]
        if failing:
            names = ", ".join(
                f"{m.value.replace('_', ' ')} ({self._streak_text(m)})" for m in failing
            )
            return self._extend_or_pause(
                f"a guard is failing at the stage's end: {names}",
                "A guard was still failing when the stage ended",
            )
        if self.judged_intervals < self.min_intervals:
            sides = "on canary and baseline" if self.has_baseline else "on the canary"
            return self._extend_or_pause(
                f"too little data: {self.judged_intervals} of the {self.min_intervals} intervals "
                f"needed had at least {self.rules.min_requests} requests {sides}",
                "There is too little traffic to judge the canary",
            )
        rows = self._comparison_rows() + (self._last_rows or _empty_rows())[2:]
        for row in rows[:2]:
            if row.ok is False:
                return Judgement(Verdict.ROLLBACK, regression_text(row), rows, metric=row.metric)
        return Judgement(Verdict.PROMOTE, None, rows)

    def _count(self, row: Row) -> Row:
        """Update the guard's streak: a failure adds one, a pass resets, not judged keeps it."""
        if row.ok is None:
            return row
        self._streaks[row.metric] = 0 if row.ok else self._streaks[row.metric] + 1
        if row.ok:
            return row
        streak = self._streak_text(row.metric)
        return replace(row, note=f"{row.note}; {streak}" if row.note else streak)

    def _streak_text(self, metric: Metric) -> str:
        streak, needed = self._streaks[metric], self.rules.consecutive_failures
        if streak >= needed:
            return f"{streak} intervals" if streak > 1 else "1 interval"
        return f"{streak} of {needed} intervals"

    def _sample(self, canary: Reading, baseline: Reading) -> None:
        """Keep the interval's values for the comparison when both sides had enough data."""
        if not canary.enough(self.rules):
            return
        if self.has_baseline and not baseline.enough(self.rules):
            return
        self.judged_intervals += 1
        if not self.has_baseline:
            return
        self._latency_label = f"{canary.latency_kind} latency"
        pairs: tuple[tuple[Metric, float | None, float | None], ...] = (
            (Metric.ERROR_RATE, canary.error_rate, baseline.error_rate),
            (
                Metric.LATENCY,
                canary.latency_ms,
                baseline.latency_ms if baseline.latency_kind == canary.latency_kind else None,
            ),
        )
        for metric, ours, theirs in pairs:
            if ours is not None and theirs is not None:
                self._canary[metric].append(ours)
                self._baseline[metric].append(theirs)

    def _comparison_rows(self) -> tuple[Row, ...]:
        labels = {Metric.ERROR_RATE: "error rate", Metric.LATENCY: self._latency_label}
        if not self.has_baseline:
            return tuple(
                Row(m, labels[m], None, None, None, None, "no baseline at 100 %") for m in labels
            )
        return tuple(
            compare(m, labels[m], self._canary[m], self._baseline[m], self.rules) for m in labels
        )

    def _extend_or_pause(self, reason: str, situation: str) -> Judgement:
        rows = self._last_rows or _empty_rows()
        if self.extensions_left > 0:
            self.extensions_left -= 1
            self._extensions_used += 1
            return Judgement(Verdict.EXTEND, reason, rows)
        after = (
            f" after {self._extensions_used} extension{'s' * (self._extensions_used != 1)}"
            if self._extensions_used
            else ""
        )
        return Judgement(
            Verdict.PAUSE,
            f"{reason}{after}",
            rows,
            question=(
                f"{situation} at {percent(self.share)} ({reason}){after}. Resume to keep "
                "watching, Promote to go on without the analysis, or Abort."
            ),
        )


def _empty_rows() -> tuple[Row, ...]:
    labels: dict[Metric, str] = {
        Metric.ERROR_RATE: "error rate",
        Metric.LATENCY: "p95 latency",
        Metric.THROUGHPUT: "throughput",
        Metric.HEALTH: "health checks failing",
    }
    return tuple(Row(m, label, None, None, None, None, "no data") for m, label in labels.items())
