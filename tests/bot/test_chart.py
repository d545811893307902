"""The stage chart: a real PNG with both series and the thresholds, matplotlib loaded lazily."""

from __future__ import annotations

import asyncio
import io
import itertools
import math
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.render.chart import (
    BASELINE_COLOUR,
    CANARY_COLOUR,
    DPI,
    HEIGHT_IN,
    THRESHOLD_COLOUR,
    WIDTH_IN,
    _number,
    render_stage_chart,
    stage_chart,
)
from bot.render.chart_points import ChartPoint

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def series(error_rates: list[float | None], p95s: list[float | None]) -> list[ChartPoint]:
    return [
        ChartPoint(START + timedelta(seconds=30 * i), rate, p95)
        for i, (rate, p95) in enumerate(zip(error_rates, p95s, strict=True))
    ]


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def pixels_like(png: bytes, colour: str) -> int:
    """How many pixels are (nearly) exactly ``colour``."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    r, g, b = to_rgb(colour)
    close = (
        (abs(image[..., 0] - r) < 0.03)
        & (abs(image[..., 1] - g) < 0.03)
        & (abs(image[..., 2] - b) < 0.03)
    )
    return int(close.sum())


def test_a_stage_renders_as_a_png_with_both_series_and_the_thresholds() -> None:
    canary = series([0.002, 0.004, 0.02, 0.03], [180, 250, 400, 620])
    baseline = series([0.003, 0.003, 0.003, 0.003], [170, 175, 172, 171])
    png = stage_chart(
        "prod v1.3.0 · stage 2/4 · 25 %", canary, baseline, max_error_rate=0.01, max_p95_ms=500
    )
    assert size(png) == (round(WIDTH_IN * DPI), round(HEIGHT_IN * DPI))
    assert pixels_like(png, THRESHOLD_COLOUR) > 500  # two dashed lines across both panels
    assert pixels_like(png, CANARY_COLOUR) > 1000
    assert pixels_like(png, BASELINE_COLOUR) > 1000


def test_no_points_at_all_still_renders_the_thresholds() -> None:
    png = stage_chart("prod v1.3.0 · stage 1/4 · 5 %", [], [], max_error_rate=0.01, max_p95_ms=500)
    assert size(png)[0] > 0
    assert pixels_like(png, THRESHOLD_COLOUR) > 500
    assert pixels_like(png, CANARY_COLOUR) < 200  # only the two legends' sample lines


def test_missing_values_are_gaps_not_errors() -> None:
    canary = series([None, 0.004, math.nan, None], [None, None, 300, math.inf])
    baseline = series([None, None, None, None], [None, None, None, None])
    png = stage_chart("gaps", canary, baseline, max_error_rate=0.01, max_p95_ms=500)
    assert png[:8] == PNG_MAGIC


def test_a_single_point_and_unordered_points_render() -> None:
    one = [ChartPoint(START, 0.001, 120.0)]
    shuffled = list(reversed(series([0.001, 0.002, 0.003], [100, 110, 120])))
    assert stage_chart("one", one, shuffled, max_error_rate=0.0, max_p95_ms=0.0)[:8] == PNG_MAGIC


def test_the_same_stage_renders_the_same_bytes() -> None:
    canary = series([0.002, 0.004], [180, 250])
    first = stage_chart("same", canary, [], max_error_rate=0.01, max_p95_ms=500)
    assert stage_chart("same", canary, [], max_error_rate=0.01, max_p95_ms=500) == first


async def test_rendering_in_a_thread_leaves_the_event_loop_free() -> None:
    canary = series([0.002] * 40, [180.0] * 40)
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(tick())
    png = await render_stage_chart("threaded", canary, canary, max_error_rate=0.01, max_p95_ms=500)
    done.set()
    await ticker
    assert png[:8] == PNG_MAGIC
    assert ticks > 10  # the loop kept running while the figure was drawn


@pytest.mark.parametrize("module", ["bot.render.chart", "bot.render.chart_points"])
def test_importing_the_chart_modules_does_not_load_matplotlib(module: str) -> None:
    code = f"import sys, {module}; print('matplotlib' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert found.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("span_s", "step_s"),
    [(5, 1), (10, 2), (30, 5), (60, 10), (270, 60), (600, 120), (3600, 600), (86400, 14400)],
)
def test_time_ticks_fall_on_whole_steps_and_never_repeat(span_s: int, step_s: int) -> None:
    from bot.render.chart import _time_span, _time_ticks

    points = [
        ChartPoint(START, 0.0, 1.0),
        ChartPoint(START + timedelta(seconds=span_s), None, None),
    ]
    low, high = _time_span(points)
    ticks = _time_ticks(low, high)
    assert 1 <= len(ticks) <= 8
    assert {b - a for a, b in itertools.pairwise(ticks)} <= {float(step_s)}
    assert all(low <= t <= high and t % step_s == 0 for t in ticks)


def test_a_breach_far_above_the_limit_keeps_the_limit_and_the_baseline_readable() -> None:
    """A 30 % canary against a 1 % limit: the panel turns symlog (linear up to the limit), so
    the limit is drawn well clear of the axis instead of flattened onto it."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    canary = series([0.002, 0.003, 0.3, 0.32], [150, 150, 150, 150])
    baseline = series([0.002, 0.001, 0.002, 0.002], [140, 140, 140, 140])
    png = stage_chart("breach", canary, baseline, max_error_rate=0.01, max_p95_ms=500)
    image = imread(io.BytesIO(png), format="png")
    top_panel = image[: image.shape[0] // 2]
    r, g, b = to_rgb(THRESHOLD_COLOUR)
    rows = [
        y
        for y in range(top_panel.shape[0])
        if (
            (abs(top_panel[y, :, 0] - r) < 0.03)
            & (abs(top_panel[y, :, 1] - g) < 0.03)
            & (abs(top_panel[y, :, 2] - b) < 0.03)
        ).sum()
        > 100
    ]
    assert rows, "no limit line in the error-rate panel"
    # On a linear 0..40 % axis the 1 % line would sit a few pixels above the axis (row ~255);
    # on symlog it is near the panel's middle.
    assert min(rows) < top_panel.shape[0] * 0.75, rows


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.5, "0.5"), (32.54, "32.5"), (134.63, "135"), (0.0012, "0.0012"), (0, "0")],
)
def test_legend_numbers_have_three_significant_figures_at_most(value: float, text: str) -> None:
    assert _number(value) == text
