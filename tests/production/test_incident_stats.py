"""`/deploy stats` through `deploybot serve` as a process: a generated month in its
database gives the figures a hand can check, and the chart is shared in the channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage import Store
from tests.incidents.month import Clock, generate_month
from tests.incidents.png import size

from .conftest import production
from .test_incidents import ALICE


async def test_stats_on_a_generated_month_share_a_chart(tmp_path: Path) -> None:
    async with production(tmp_path) as prod:
        slack = prod.slack
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start, clock = midnight - timedelta(days=30), Clock(midnight)
        # Another writer on the bot's database: the month's rows, as a team's history.
        async with Store.open(f"sqlite+aiosqlite:///{prod.database}", clock=clock) as store:
            await generate_month(store, clock, start)

        assert await slack.command(ALICE, "/deploy stats prod --since 31d") == 200
        answer = await slack.wait_for(lambda: slack.response("DORA figures for prod"), 60)
        text = answer["text"]
        assert "0.97/day (30 deployments)" in text  # 30 in 31 days
        assert "Lead time (request to live, median): 20m00s" in text
        # The reference's failure window is its auto_rollback_within, 30 min: days 5, 15, 25
        # (rolled back) and 10 (an incident 25 min after); day 20's rollback job came 30 min
        # after, on the window's edge, so it is outside it.
        assert "Change failure rate: 13% (4 of 30)" in text
        assert "Time to restore (median): 37m30s over 2 incidents" in text
        assert "MTTA (mean time to acknowledge): 10m00s" in text
        assert "The chart of these figures is shared in this channel." in text
        assert answer.get("response_type") == "ephemeral"

        shared = [m for m in slack.messages.values() if m.files and m.channel == "C0DEPLOYS"]
        assert len(shared) == 1
        (file,) = (slack.files[f] for f in shared[0].files)
        assert file.completed and file.title == "DORA figures for prod, last 31 days"
        assert file.content is not None and file.length == len(file.content)
        assert size(file.content) == (960, 520)  # a PNG of the chart's size

        # Too little data (staging has none): the figures, and no chart.
        assert await slack.command(ALICE, "/deploy stats staging") == 200
        quiet = await slack.wait_for(lambda: slack.response("DORA figures for staging"), 60)
        assert "0 deployments" in quiet["text"] and "chart" not in quiet["text"]
        assert len([m for m in slack.messages.values() if m.files]) == 1
