"""What the judge answers: a verdict, the rule that decided it, and a row per metric."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    CONTINUE = "continue"
    """Nothing decided yet: keep observing."""
    PROMOTE = "promote"
    """The stage passed: move to the next one (or finish after the last)."""
    EXTEND = "extend"
    """Too little to decide: lengthen the stage and ask again at its new end."""
    PAUSE = "pause"
    """Stop stepping and ask a human in the thread (``Judgement.question``)."""
    ROLLBACK = "rollback"
    """Take the canary out of traffic now (``Judgement.rule`` says why)."""


class Metric(StrEnum):
    ERROR_RATE = "error_rate"
    LATENCY = "latency"
    THROUGHPUT = "throughput"
    HEALTH = "health"


@dataclass(frozen=True)
class Row:
    """One line of the card's table.

    Units: error rate as a fraction (0.012), latency in ms, throughput in requests/s, health
    as the number of failing checks. ``threshold`` is the limit the canary is held to: a maximum
    for error rate, latency and health, a minimum for throughput. ``ok`` is None when the metric
    was not judged; ``note`` then says why.
    """

    metric: Metric
    label: str
    canary: float | None
    baseline: float | None
    threshold: float | None
    ok: bool | None
    note: str = ""
    p_value: float | None = None
    """Set on the comparison rows of a stage's end: the Mann-Whitney U test's p-value."""


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    rule: str | None
    """Why, for anything but continue and promote; e.g. "canary error rate 5.2 % > 1 % for 2
    intervals"."""
    rows: tuple[Row, ...]
    """Error rate, latency, throughput and health, in that order."""
    question: str | None = None
    """With pause: what to ask in the thread."""
    metric: Metric | None = None
    """With rollback: the metric whose rule fired."""

    def row(self, metric: Metric) -> Row:
        return next(row for row in self.rows if row.metric == metric)


def shown(metric: Metric, value: float | None) -> str:
    """A value as the card and the rule texts write it: "5.2 %", "812 ms", "3.1 rps"."""
    if value is None:
        return "–"
    if metric == Metric.ERROR_RATE:
        return percent(value)
    if metric == Metric.LATENCY:
        return f"{value:.0f} ms"
    if metric == Metric.THROUGHPUT:
        return f"{value:.3g} rps"
    return f"{value:.0f}"


def percent(fraction: float) -> str:
    """0.052 → "5.2 %", 0.05 → "5 %"."""
    return f"{fraction * 100:.3g} %"
