"""The process tests' FakeSlack takes a stage chart the way Slack does: the external upload
flow that CardPublisher.upload drives through slack-sdk's files_upload_v2."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import CardPublisher, CardPublishError
from bot.render.chart import stage_chart
from bot.render.chart_points import ChartPoint

from .fake_slack import fake_slack


async def test_a_chart_uploaded_by_the_publisher_lands_in_the_cards_thread() -> None:
    start = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    points = [ChartPoint(start + timedelta(seconds=30 * i), 0.001 * i, 150.0 + i) for i in range(5)]
    title = "prod v1.3.0 · stage 3/4 · 50 %"
    png = stage_chart(title, points, points, max_error_rate=0.01, max_p95_ms=500)
    errors: list[CardPublishError] = []
    async with fake_slack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=f"{slack.url}/api/")
        async with CardPublisher(client, clock=time.monotonic, on_error=errors.append) as cards:
            channel, ts = await cards.post_card("dep-1", "#deploys", {"text": "canary card"})
            file_id = await cards.upload(channel, ts, "stage-3.png", png, "Stage 3", "stage 3 ok")
        card = slack.card("canary card")
        assert card is not None
        (chart,) = slack.files_in(card)
        assert (chart.id, chart.title, chart.content) == (file_id, "Stage 3", png)
        assert [m.text for m in slack.thread(card)] == ["stage 3 ok"]
        assert [name for name, _ in slack.calls[-2:]] == [
            "files.getUploadURLExternal",
            "files.completeUploadExternal",
        ]
    assert errors == []


async def test_an_unknown_or_unuploaded_file_is_not_found() -> None:
    async with fake_slack() as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=f"{slack.url}/api/")
        with pytest.raises(SlackApiError, match="file_not_found"):
            await client.files_completeUploadExternal(files=[{"id": "F0NOPE"}])
        reserved = await client.files_getUploadURLExternal(filename="c.png", length=10)
        with pytest.raises(SlackApiError, match="file_not_found"):
            await client.files_completeUploadExternal(files=[{"id": reserved["file_id"]}])
        assert slack.files[reserved["file_id"]].completed is False
