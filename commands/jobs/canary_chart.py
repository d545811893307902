"""The series of one canary stage, interval by interval, for the chart in its thread."""

from __future__ import annotations

from datetime import datetime

from commands.jobs.notes import StageNote, StagePoint
from commands.platform.base import MetricSeries


class StageChart:
    def __init__(self, title: str, max_error_rate: float, max_p95_ms: float) -> None:
        self.title = title
        self.max_error_rate = max_error_rate
        self.max_p95_ms = max_p95_ms
        self._canary: list[StagePoint] = []
        self._baseline: list[StagePoint] = []

    def add(self, at: datetime, canary: MetricSeries, baseline: MetricSeries) -> None:
        self._canary.append(StagePoint(at, canary.error_rate, canary.latency_ms))
        self._baseline.append(StagePoint(at, baseline.error_rate, baseline.latency_ms))

    def note(self, text: str) -> StageNote:
        return StageNote(
            text,
            self.title,
            tuple(self._canary),
            tuple(self._baseline),
            self.max_error_rate,
            self.max_p95_ms,
        )
