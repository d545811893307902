"""A judgement as the card's table and the stage's summary line say it."""

from __future__ import annotations

from commands.canary.judgement import Judgement, Row, percent, shown
from commands.config.model import CanaryStage, RollbackRules
from commands.jobs.context import MetricRow


def metric_rows(verdict: Judgement, rules: RollbackRules) -> tuple[MetricRow, ...]:
    return tuple(
        MetricRow(
            row.label,
            shown(row.metric, row.canary),
            shown(row.metric, row.baseline),
            _limit(row, rules),
            row.ok is not False,
        )
        for row in verdict.rows
    )


def _limit(row: Row, rules: RollbackRules) -> str:
    """A comparison row's limit is the baseline raised by ``allowed_increase``: it says so,
    so that "limit 5 ms" beside a 500 ms guard is not a surprise."""
    limit = shown(row.metric, row.threshold)
    if row.p_value is not None or row.note.startswith("too few intervals"):
        return f"{limit} (baseline + {percent(rules.allowed_increase)})"
    return limit


def stage_summary(index: int, stage: CanaryStage, verdict: Judgement) -> str:
    table = "; ".join(
        f"{r.label} {shown(r.metric, r.canary)} vs {shown(r.metric, r.baseline)}"
        for r in verdict.rows
        if r.canary is not None
    )
    return f"Stage {index + 1} ({stage.percent} %) passed: {table or 'no figures'}."
