"""The absolute guards of one interval, each as a table row that passed, failed or was not judged.

A guard judges only on enough data: at least ``min_requests`` canary requests for error rate
and latency, and at least that many *expected* canary requests for throughput, so that a quiet
interval is "not judged" rather than a failure (1 error in 8 requests is not a 12 % error rate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from commands.canary.judgement import Metric, Row, percent, shown
from commands.config.model import RollbackRules
from commands.platform.state import MetricSeries


@dataclass(frozen=True)
class Reading:
    """One side's figures for one interval, with NaN, infinities and negatives made None."""

    requests: float
    error_rate: float | None
    latency_ms: float | None
    latency_kind: str
    seconds: float | None

    @classmethod
    def of(cls, series: MetricSeries) -> Reading:
        requests = _number(series.requests) or 0.0
        errors = _number(series.errors)
        return cls(
            requests=requests,
            error_rate=min(1.0, errors / requests) if errors is not None and requests else None,
            latency_ms=_number(series.latency_ms),
            latency_kind=series.latency_kind,
            seconds=_number(series.window.total_seconds()) or None,
        )

    @property
    def rps(self) -> float | None:
        return self.requests / self.seconds if self.seconds else None

    def enough(self, rules: RollbackRules) -> bool:
        return self.requests > 0 and self.requests >= rules.min_requests


def _number(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def error_rate_row(canary: Reading, baseline: Reading, rules: RollbackRules) -> Row:
    row = Row(
        Metric.ERROR_RATE,
        "error rate",
        canary.error_rate,
        baseline.error_rate,
        rules.max_error_rate,
        ok=None,
    )
    if not canary.enough(rules) or canary.error_rate is None:
        return _not_judged(row, _too_little(canary, rules))
    return replace(row, ok=canary.error_rate <= rules.max_error_rate)


def latency_row(canary: Reading, baseline: Reading, rules: RollbackRules) -> Row:
    row = Row(
        Metric.LATENCY,
        f"{canary.latency_kind} latency",
        canary.latency_ms,
        baseline.latency_ms if baseline.latency_kind == canary.latency_kind else None,
        rules.max_p95_latency_ms,
        ok=None,
        # The limit is a p95; an average is held to it too, which is lenient, and says so.
        note="" if canary.latency_kind == "p95" else "the source reports averages, not p95",
    )
    if not canary.enough(rules) or canary.latency_ms is None:
        return _not_judged(row, _too_little(canary, rules))
    return replace(row, ok=canary.latency_ms <= rules.max_p95_latency_ms)


ROUTING_NOISE_Z = 2.5
"""How many standard deviations of random routing a canary's shortfall must exceed to count."""


def throughput_row(canary: Reading, baseline: Reading, share: float, rules: RollbackRules) -> Row:
    """The canary's rps against ``min_throughput_ratio`` × what its share of traffic predicts.

    The baseline carries the rest of the traffic, so the canary should see
    baseline rps × share / (1 − share). Each request is routed at random, so in a window of N
    requests the canary's count is binomial (N, share): a shortfall that random routing
    explains (within ``ROUTING_NOISE_Z`` standard deviations) does not fail, however far below
    the ratio it is. With little traffic that is most shortfalls; with a production's thousands
    of requests an interval, the ratio decides.
    """
    row = Row(Metric.THROUGHPUT, "throughput", canary.rps, baseline.rps, None, ok=None)
    if share >= 1:
        return _not_judged(row, "no baseline at 100 %")
    if canary.seconds is None or baseline.rps is None:
        return _not_judged(row, "no traffic figures")
    expected_rps = baseline.rps * share / (1 - share)
    canary_rps, threshold = canary.rps or 0.0, rules.min_throughput_ratio * expected_rps
    row = replace(row, canary=canary_rps, threshold=threshold)
    expected_requests = expected_rps * canary.seconds
    if expected_requests < max(1, rules.min_requests):
        return _not_judged(row, f"too little traffic expected ({expected_requests:.0f} requests)")
    if canary_rps >= threshold:
        return replace(row, ok=True)
    routed = canary.requests + baseline.requests
    spread = ROUTING_NOISE_Z * math.sqrt(routed * share * (1 - share))
    if canary.requests >= routed * share - spread:
        return replace(row, ok=True, note="below the ratio, within random routing's spread")
    return replace(row, ok=False)


def health_row(canary_failing: frozenset[str], baseline_failing: frozenset[str]) -> Row:
    """Checks failing on the canary alone count against it; shared ones are the judge's pause."""
    notes = [
        f"{side}: {', '.join(sorted(names))}"
        for side, names in (("canary", canary_failing), ("baseline", baseline_failing))
        if names
    ]
    return Row(
        Metric.HEALTH,
        "health checks failing",
        float(len(canary_failing)),
        float(len(baseline_failing)),
        0.0,
        ok=not canary_failing - baseline_failing,
        note="; ".join(notes),
    )


def failure_text(row: Row, share: float, rules: RollbackRules, canary_only: frozenset[str]) -> str:
    """What a failed row says in a rule, e.g. "canary error rate 5.2 % > 1 %"."""
    canary, threshold = shown(row.metric, row.canary), shown(row.metric, row.threshold)
    if row.metric == Metric.ERROR_RATE:
        return f"canary error rate {canary} > {threshold}"
    if row.metric == Metric.LATENCY:
        limit = "" if row.label.startswith("p95") else " (a p95 limit; the source reports averages)"
        return f"canary {row.label} {canary} > {threshold}{limit}"
    if row.metric == Metric.THROUGHPUT:
        return (
            f"canary throughput {canary} < {threshold} ({percent(rules.min_throughput_ratio)} "
            f"of baseline {shown(row.metric, row.baseline)} scaled to a {percent(share)} share)"
        )
    return f"canary health check failing: {', '.join(sorted(canary_only))}"


def _too_little(reading: Reading, rules: RollbackRules) -> str:
    return f"too little data ({reading.requests:.0f} < {rules.min_requests} requests)"


def _not_judged(row: Row, why: str) -> Row:
    return replace(row, ok=None, note=f"{row.note}; {why}" if row.note else why)
