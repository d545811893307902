"""A canary stage as a PNG: canary vs baseline error rate and p95 latency, thresholds drawn.

matplotlib is imported inside :func:`stage_chart`, never at module import: it costs tens of MB
and half a second that a bot which never runs a canary should not pay. Figures are built with
the object API on the Agg canvas (no pyplot, no global figure state), one at a time: matplotlib
does not promise thread safety and the job runs the render in a worker thread
(:func:`render_stage_chart`) so the event loop keeps serving Slack meanwhile.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

from bot.render.chart_points import ChartPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ChartPoint", "render_stage_chart", "stage_chart"]

CANARY_COLOUR = "#e76f51"
BASELINE_COLOUR = "#457b9d"
THRESHOLD_COLOUR = "#c1121f"
WIDTH_IN, HEIGHT_IN, DPI = 9.6, 5.6, 100
SQUASHED = 10
"""A panel whose highest value is this many times its limit is drawn on a symlog scale."""

_TICK_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
_RENDER_LOCK = threading.Lock()


async def render_stage_chart(
    title: str,
    canary: Sequence[ChartPoint],
    baseline: Sequence[ChartPoint],
    *,
    max_error_rate: float,
    max_p95_ms: float,
) -> bytes:
    """:func:`stage_chart` in a worker thread, so a render never blocks the event loop."""
    return await asyncio.to_thread(
        stage_chart,
        title,
        list(canary),
        list(baseline),
        max_error_rate=max_error_rate,
        max_p95_ms=max_p95_ms,
    )


def stage_chart(
    title: str,
    canary: Sequence[ChartPoint],
    baseline: Sequence[ChartPoint],
    *,
    max_error_rate: float,
    max_p95_ms: float,
) -> bytes:
    """PNG bytes: error rate (%) above, p95 latency (ms) below, over the stage's time.

    Missing values (None, NaN) are gaps in the line; a panel with no value at all says
    "no data" instead of drawing a flat zero.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter

    tz = _zone(canary, baseline)
    with _RENDER_LOCK:
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        errors, latency = figure.subplots(2, 1, sharex=True)
        figure.suptitle(title, fontsize=12, fontweight="bold")
        _panel(
            errors,
            canary,
            baseline,
            lambda p: None if p.error_rate is None else p.error_rate * 100,
            threshold=max_error_rate * 100,
            unit="%",
            ylabel="error rate (%)",
        )
        _panel(
            latency,
            canary,
            baseline,
            lambda p: p.p95_ms,
            threshold=max_p95_ms,
            unit="ms",
            ylabel="p95 latency (ms)",
        )
        if any(True for _ in (*canary, *baseline)):
            low, high = _time_span(canary, baseline)
            latency.set_xlim(low, high)
            latency.xaxis.set_major_locator(FixedLocator(_time_ticks(low, high)))
            latency.xaxis.set_major_formatter(
                FuncFormatter(lambda x, _: datetime.fromtimestamp(x, tz).strftime("%H:%M:%S"))
            )
            latency.set_xlabel(f"time ({_zone_name(tz)})")
        else:
            latency.set_xticks([])
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _panel(
    axes: Axes,
    canary: Sequence[ChartPoint],
    baseline: Sequence[ChartPoint],
    value: Callable[[ChartPoint], float | None],
    *,
    threshold: float,
    unit: str,
    ylabel: str,
) -> None:
    from matplotlib.ticker import FuncFormatter

    highest = threshold
    drawn = False
    for name, points, colour, marker in (
        ("baseline", baseline, BASELINE_COLOUR, "s"),
        ("canary", canary, CANARY_COLOUR, "o"),
    ):
        ordered = sorted(points, key=lambda p: p.at)
        ys = [_finite(value(p)) for p in ordered]
        present = [y for y in ys if not math.isnan(y)]
        label = name
        if present:
            drawn = True
            highest = max(highest, *present)
            label += f" (last {_number(present[-1])} {unit})"
        axes.plot(
            [p.at.timestamp() for p in ordered],
            ys,
            label=label,
            color=colour,
            marker=marker,
            markersize=4,
            linewidth=2 if name == "canary" else 1.5,
        )
    limit = f"max {_number(threshold)} {unit}"
    axes.axhline(threshold, color=THRESHOLD_COLOUR, linestyle="--", linewidth=1.5, label=limit)
    if not drawn:
        axes.text(
            0.5, 0.5, "no data", transform=axes.transAxes, ha="center", va="center",
            fontsize=11, color="#6c757d",
        )  # fmt: skip
    if threshold > 0 and highest > SQUASHED * threshold:
        # A breach far above the limit would flatten the limit and everything under it onto
        # the axis: linear up to the limit, logarithmic above, keeps both readable.
        axes.set_yscale("symlog", linthresh=threshold, linscale=1.0)
        axes.set_ylim(0, highest * 2)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _: _number(y)))  # not 10⁰, 10¹
        ylabel += f"\nlog scale above {_number(threshold)} {unit}"
    else:
        axes.set_ylim(0, highest * 1.25 if highest > 0 else 1)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _time_span(*series: Sequence[ChartPoint]) -> tuple[float, float]:
    """The stage's time in epoch seconds, every interval included (even one without data)."""
    stamps = [p.at.timestamp() for points in series for p in points]
    low, high = min(stamps), max(stamps)
    pad = max((high - low) * 0.04, 0.5)  # a stage of seconds fills the panel, too
    return low - pad, high + pad


def _time_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Epoch seconds on whole steps of 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min or hours."""
    step = next((s for s in _TICK_STEPS if (high - low) / s <= most), 3600.0)
    while (high - low) / step > most:
        step *= 2
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) // step) + 1)]


def _finite(value: float | None) -> float:
    """NaN for a missing value: matplotlib leaves a gap there."""
    if value is None or not math.isfinite(value):
        return math.nan
    return float(value)


def _zone(*series: Sequence[ChartPoint]) -> tzinfo:
    for points in series:
        for point in points:
            if point.at.tzinfo is not None:
                return point.at.tzinfo
    return UTC


def _zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def _number(value: float) -> str:
    """Three significant figures at most: 1.0 → "1", 0.5 → "0.5", 32.54 → "32.5",
    134.63 → "135", 0.0012 → "0.0012"."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
