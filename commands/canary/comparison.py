"""The comparison with the baseline at a stage's end: is the canary worse, with confidence?

Per metric, the canary's per-interval values are tested against the baseline's from the same
intervals with a one-sided Mann-Whitney U test. The baseline's values are first raised by
``allowed_increase`` (10 % by default), so a canary that is only a little slower, as a cold
instance may be, is not called worse however many intervals show it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace

from commands.canary import mannwhitney
from commands.canary.judgement import Metric, Row, shown
from commands.config.model import RollbackRules


def compare(
    metric: Metric,
    label: str,
    canary: Sequence[float],
    baseline: Sequence[float],
    rules: RollbackRules,
) -> Row:
    """A row whose ``ok`` is False when the canary is worse with ``rules.confidence``.

    ``canary`` and ``baseline`` hold one value per interval. The row shows their medians; its
    threshold is the baseline's median raised by ``allowed_increase``. Fewer values than the
    test needs to ever reach the confidence leave the row not judged.
    """
    alpha = 1 - rules.confidence
    needed = mannwhitney.min_sample_size(alpha)
    baseline_median = statistics.median(baseline) if baseline else None
    row = Row(
        metric,
        label,
        statistics.median(canary) if canary else None,
        baseline_median,
        _raised(baseline_median, rules) if baseline_median is not None else None,
        ok=None,
    )
    n = min(len(canary), len(baseline))
    if n < needed:
        return replace(row, note=f"too few intervals to compare ({n} < {needed})")
    test = mannwhitney.greater(canary, [_raised(v, rules) for v in baseline])
    worse = test.p_value < alpha
    note = f"p = {test.p_value:.2g} {'<' if worse else '≥'} {alpha:.2g} over {n} intervals"
    return replace(row, ok=not worse, note=note, p_value=test.p_value)


def regression_text(row: Row) -> str:
    return (
        f"comparison: canary {row.label} above baseline, median "
        f"{shown(row.metric, row.canary)} vs {shown(row.metric, row.baseline)}, {row.note}"
    )


def _raised(value: float, rules: RollbackRules) -> float:
    return value * (1 + rules.allowed_increase)
