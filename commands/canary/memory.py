"""What a stage's judge has seen so far, as JSON the job keeps with the stage's progress.

A canary resumed after a restart rebuilds its judge from this: the streaks of failing guards,
the per-interval samples the comparison needs and the count of judged intervals carry on
instead of starting again from nothing, so a restart neither forgives a failing guard nor
makes the stage wait for intervals it has already judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from commands.canary.judgement import Metric

SAMPLED = (Metric.ERROR_RATE, Metric.LATENCY)
"""The metrics whose per-interval values the comparison with the baseline tests."""


@dataclass(frozen=True)
class JudgeMemory:
    judged_intervals: int = 0
    extensions_used: int = 0
    streaks: Mapping[Metric, int] = field(default_factory=dict)
    canary: Mapping[Metric, tuple[float, ...]] = field(default_factory=dict)
    baseline: Mapping[Metric, tuple[float, ...]] = field(default_factory=dict)
    latency_label: str = "p95 latency"

    def to_json(self) -> dict[str, Any]:
        return {
            "judged_intervals": self.judged_intervals,
            "extensions_used": self.extensions_used,
            "streaks": {m.value: n for m, n in self.streaks.items() if n},
            "canary": {m.value: list(v) for m, v in self.canary.items()},
            "baseline": {m.value: list(v) for m, v in self.baseline.items()},
            "latency_label": self.latency_label,
        }

    @classmethod
    def from_json(cls, value: object) -> JudgeMemory | None:
        """None for anything that is not a memory this version wrote (the stage's analysis
        then starts again, and the job says so)."""
        if not isinstance(value, Mapping):
            return None
        judged, used = value.get("judged_intervals"), value.get("extensions_used")
        if not isinstance(judged, int) or not isinstance(used, int):
            return None
        label = value.get("latency_label")
        return cls(
            judged_intervals=max(0, judged),
            extensions_used=max(0, used),
            streaks={
                m: n
                for m, n in _by_metric(value.get("streaks"), tuple(Metric)).items()
                if isinstance(n, int) and n > 0
            },
            canary=_samples(value.get("canary")),
            baseline=_samples(value.get("baseline")),
            latency_label=label if isinstance(label, str) and label else "p95 latency",
        )


def _by_metric(value: object, metrics: tuple[Metric, ...]) -> dict[Metric, object]:
    if not isinstance(value, Mapping):
        return {}
    return {m: value[m.value] for m in metrics if m.value in value}


def _samples(value: object) -> dict[Metric, tuple[float, ...]]:
    out: dict[Metric, tuple[float, ...]] = {}
    for metric, values in _by_metric(value, SAMPLED).items():
        if isinstance(values, list):
            out[metric] = tuple(
                float(v)
                for v in values
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            )
    return out
