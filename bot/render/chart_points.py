"""The data of a stage chart, importable without the plotting library.

A canary job collects one :class:`ChartPoint` per analysis interval for the canary and one for
the baseline, then hands both series to :func:`bot.render.chart.render_stage_chart`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ChartPoint:
    """One analysis interval of one target, measured at ``at`` (an aware datetime).

    ``error_rate`` is a fraction (0.012 = 1.2 %); either value is None when the interval had
    no data for it, which the chart shows as a gap, not as zero.
    """

    at: datetime
    error_rate: float | None
    p95_ms: float | None
