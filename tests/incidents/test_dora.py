"""DORA figures and MTTA on a database holding a generated month, checked by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.incidents.stats_chart import FAILED_COLOUR, LEAD_COLOUR, OK_COLOUR, stats_chart
from commands.incidents.daily import Day, daily, enough_for_a_chart
from commands.incidents.dora import figures
from storage import Incidents, Store, default_database_url

from .month import DAY, MINUTE, Clock, generate_month
from .png import pixels_like, size

START = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with Store.open(default_database_url(tmp_path), clock=clock) as opened:
        yield opened


async def test_a_generated_month(store: Store, clock: Clock) -> None:
    incidents = Incidents(store.db)
    await generate_month(store, clock, START)

    until = START + 30 * DAY
    found = figures(
        await incidents.deployments_between(START, until, "prod"),
        await incidents.between(START, until, "prod"),
        START,
        until,
        failure_window=timedelta(hours=1),
    )
    assert found.deployments == 30 and found.per_day == pytest.approx(1.0)
    assert found.lead_time == 20 * MINUTE  # the median of 10×10, 10×20 and 10×30 min
    # Three rolled back, day 10 (an incident within the hour) and day 20 (a rollback job).
    assert found.failures == 5 and found.change_failure_rate == pytest.approx(5 / 30)
    assert found.incidents == 2
    assert found.time_to_restore == 37.5 * MINUTE  # median of 15 min (mitigated), 60 min
    assert found.mtta == 10 * MINUTE  # mean of 5 and 15 min

    week = figures(
        await incidents.deployments_between(START, START + 7 * DAY, "prod"),
        await incidents.between(START, START + 7 * DAY, "prod"),
        START,
        START + 7 * DAY,
        failure_window=timedelta(hours=1),
    )
    assert (week.deployments, week.failures, week.incidents, week.mtta) == (7, 1, 0, None)


async def test_the_month_day_by_day_and_its_chart(store: Store, clock: Clock) -> None:
    incidents = Incidents(store.db)
    await generate_month(store, clock, START)
    until = START + 30 * DAY
    days = daily(
        await incidents.deployments_between(START, until, "prod"),
        await incidents.between(START, until, "prod"),
        START,
        until,
        failure_window=timedelta(hours=1),
    )
    assert len(days) == 31 and days[-1].deployments == 0  # the window's last, empty day
    assert [d.day for d in days[:2]] == [date(2026, 11, 1), date(2026, 11, 2)]
    assert all(d.deployments == 1 for d in days[:30])
    assert [i for i, d in enumerate(days) if d.failures] == [5, 10, 15, 20, 25]
    assert [i for i, d in enumerate(days) if d.incidents] == [10, 12]
    assert [d.lead_time for d in days[:3]] == [10 * MINUTE, 20 * MINUTE, 30 * MINUTE]
    assert enough_for_a_chart(days) and not enough_for_a_chart(days[:4])

    png = stats_chart("DORA figures for prod, last 30 days", days)
    assert size(png) == (960, 520)
    # Drawn, not a blank canvas: the failed days' bars, the others, the lead-time line.
    assert pixels_like(png, FAILED_COLOUR) > 500
    assert pixels_like(png, OK_COLOUR) > pixels_like(png, FAILED_COLOUR) * 3
    assert pixels_like(png, LEAD_COLOUR) > 200


def test_too_little_data_for_a_chart() -> None:
    one = [Day(date(2026, 11, d), 1, 0, 0, MINUTE) for d in (1, 2)]
    assert not enough_for_a_chart(one)  # two deployments on two days
    burst = [Day(date(2026, 11, 1), 9, 1, 0, MINUTE)]
    assert not enough_for_a_chart(burst)  # many, but on one day


def test_stats_command_parses() -> None:
    from commands.parse import UsageError, parse
    from commands.requests import Stats

    envs = {"prod": "prod", "production": "prod"}
    assert parse("/deploy", "stats", envs) == Stats(None, 30)
    assert parse("/deploy", "stats production --since 7d", envs) == Stats("prod", 7)
    refused = parse("/deploy", "stats prod --since forever", envs)
    assert isinstance(refused, UsageError) and "--since" in refused.problem
