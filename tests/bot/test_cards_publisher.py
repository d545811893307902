"""CardPublisher against the Slack workspace emulator through the real slack_sdk client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import CardPublisher, CardPublishError, Pace, PublisherClosed
from bot.render.chart import render_stage_chart
from bot.render.chart_points import ChartPoint
from bot.slackemu import ApiCall, SlackEmulator, Workspace, reference_workspace

TOKEN = "xoxb-publisher-test"
CHANNEL = "C0DEPLOYS"
PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 100


def msg(text: str) -> dict[str, Any]:
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


@pytest.fixture
def ws() -> Workspace:
    return reference_workspace()


@pytest.fixture
async def emu(ws: Workspace) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator.start(ws, bot_token=TOKEN) as running:
        yield running


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=emu.api_url)


@pytest.fixture
def errors() -> list[CardPublishError]:
    return []


@pytest.fixture
async def publisher(
    client: AsyncWebClient, errors: list[CardPublishError]
) -> AsyncIterator[CardPublisher]:
    async with CardPublisher(
        client,
        clock=time.monotonic,
        on_error=errors.append,
        min_interval=0.05,
        posts_per_second=100,
        max_retry_after=0.2,
    ) as running:
        yield running


def ok_updates(ws: Workspace) -> list[ApiCall]:
    return [c for c in ws.calls_to("chat.update") if c.ok]


def shown(ws: Workspace, ts: str) -> list[str]:
    """Every text the card has shown, oldest first, ending with the current one."""
    message = ws.message(CHANNEL, ts)
    return [v.text for v in message.history] + [message.text]


async def test_post_card_says_where_the_card_lives(publisher: CardPublisher, ws: Workspace) -> None:
    channel, ts = await publisher.post_card("dep-1", "#deploys", msg("card"))
    assert channel == CHANNEL
    assert ws.message(CHANNEL, ts).blocks[0]["text"]["text"] == "card"


async def test_a_burst_of_updates_is_coalesced_and_ends_with_the_final_content(
    publisher: CardPublisher, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    publisher.update("dep-1", channel, ts, msg("v1"))
    await ws.wait_for(lambda change: change.kind == "edit", description="the first edit")
    for n in range(2, 21):
        publisher.update("dep-1", channel, ts, msg(f"v{n}"))
    await publisher.flush("dep-1")
    assert len(ws.calls_to("chat.update")) == 2
    assert shown(ws, ts) == ["v0", "v1", "v20"]
    assert ws.message(CHANNEL, ts).blocks[0]["text"]["text"] == "v20"


async def test_updates_between_other_work_still_coalesce_in_order(
    publisher: CardPublisher, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    for n in range(1, 21):
        publisher.update("dep-1", channel, ts, msg(f"v{n}"))
        await asyncio.sleep(0)  # the job yields between updates, as real jobs do
    await publisher.flush()
    versions = [int(text[1:]) for text in shown(ws, ts)]
    assert versions == sorted(versions)
    assert versions[-1] == 20
    assert len(ws.calls_to("chat.update")) < 5


async def test_a_card_drawn_again_as_it_goes_out_does_not_undo_a_newer_one(
    publisher: CardPublisher, ws: Workspace
) -> None:
    """Two replicas redraw one card: this one recorded "waiting" a moment before the other
    replica stored and sent "queued". What goes out is drawn as it is sent, so "waiting"
    never comes back over "queued"; a refresh that fails sends what was recorded."""
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    stored = {"state": "waiting"}

    async def refresh() -> tuple[dict[str, Any], str | None]:
        return msg(stored["state"]), None

    publisher.update("dep-1", channel, ts, msg("waiting"), refresh=refresh)
    stored["state"] = "queued"  # the other replica's change, before this update went out
    await publisher.flush("dep-1")
    assert shown(ws, ts) == ["v0", "queued"]

    async def broken() -> tuple[dict[str, Any], str | None]:
        raise RuntimeError("the database is away")

    publisher.update("dep-1", channel, ts, msg("as recorded"), refresh=broken)
    await publisher.flush("dep-1")
    assert shown(ws, ts)[-1] == "as recorded"


async def test_many_cards_each_end_with_their_final_content(
    publisher: CardPublisher, ws: Workspace
) -> None:
    cards = [await publisher.post_card(f"dep-{i}", CHANNEL, msg("new")) for i in range(5)]
    for n in range(10):
        for i, (channel, ts) in enumerate(cards):
            publisher.update(f"dep-{i}", channel, ts, msg(f"card {i} step {n}"))
        await asyncio.sleep(0)
    await publisher.flush()
    assert [ws.message(CHANNEL, ts).text for _, ts in cards] == [
        f"card {i} step 9" for i in range(5)
    ]
    assert len(ws.calls_to("chat.update")) < 50


async def test_a_429_is_retried_after_retry_after_and_ends_with_the_final_state(
    client: AsyncWebClient, emu: SlackEmulator, ws: Workspace
) -> None:
    errors: list[CardPublishError] = []
    async with CardPublisher(
        client, clock=time.monotonic, on_error=errors.append, min_interval=0.05
    ) as publisher:
        channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
        emu.rate_limit("chat.update", times=1, retry_after=1)
        for n in range(1, 6):
            publisher.update("dep-1", channel, ts, msg(f"v{n}"))
            await asyncio.sleep(0)
        await publisher.flush()
    calls = ws.calls_to("chat.update")
    assert calls[0].status == 429
    assert calls[-1].ok
    assert calls[1].at - calls[0].at >= 0.95  # Slack asked for a second; we waited it out
    assert ws.message(CHANNEL, ts).text == "v5"
    assert errors == []


async def test_updates_during_a_429_backoff_are_coalesced_and_retry_after_is_capped(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    emu.rate_limit("chat.update", times=1, retry_after=30)  # capped to 0.2 s by the fixture
    publisher.update("dep-1", channel, ts, msg("v1"))
    await ws.wait_until(lambda: ws.calls_to("chat.update") or None, description="the 429")
    for n in range(2, 11):
        publisher.update("dep-1", channel, ts, msg(f"v{n}"))
    await publisher.flush()
    assert [c.status for c in ws.calls_to("chat.update")] == [429, 200]
    assert shown(ws, ts) == ["v0", "v10"]
    assert errors == []


async def test_a_transient_slack_error_is_retried(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    emu.fail_next("chat.update", "internal_error")
    publisher.update("dep-1", channel, ts, msg("v1"))
    await publisher.flush()
    assert ws.message(CHANNEL, ts).text == "v1"
    assert errors == []


async def test_an_error_is_reported_and_later_updates_still_go_out(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
    emu.fail_next("chat.update", "message_not_found")
    publisher.update("dep-1", channel, ts, msg("lost"))
    await publisher.flush()
    assert [(e.method, e.error, e.deployment_id) for e in errors] == [
        ("chat.update", "message_not_found", "dep-1")
    ]
    publisher.update("dep-1", channel, ts, msg("v2"))
    await publisher.flush()
    assert ws.message(CHANNEL, ts).text == "v2"


async def test_a_card_that_is_gone_does_not_stop_the_others(
    publisher: CardPublisher, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-2", CHANNEL, msg("v0"))
    publisher.update("dep-1", CHANNEL, "1.000001", msg("nowhere"))
    publisher.update("dep-2", channel, ts, msg("v1"))
    await publisher.flush()
    assert ws.message(CHANNEL, ts).text == "v1"
    assert [(e.error, e.deployment_id) for e in errors] == [("message_not_found", "dep-1")]
    assert "dep-1" in str(errors[0])


async def test_a_failing_error_handler_does_not_stop_the_publisher(
    client: AsyncWebClient, ws: Workspace
) -> None:
    def explode(error: CardPublishError) -> None:
        raise RuntimeError("handler bug")

    async with CardPublisher(
        client, clock=time.monotonic, on_error=explode, min_interval=0.01
    ) as publisher:
        channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("v0"))
        publisher.update("dep-9", CHANNEL, "1.000001", msg("nowhere"))
        publisher.update("dep-1", channel, ts, msg("v1"))
    assert ws.message(CHANNEL, ts).text == "v1"


async def test_replies_appear_in_order_in_the_thread(
    publisher: CardPublisher, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    answers = await asyncio.gather(
        *(publisher.reply(channel, ts, msg(f"step {n}")) for n in range(15))
    )
    thread = ws.thread(CHANNEL, ts)[1:]
    assert [m.text for m in thread] == [f"step {n}" for n in range(15)]
    assert answers == [m.ts for m in thread]


async def test_replies_keep_their_order_when_the_channel_is_paced(
    client: AsyncWebClient, ws: Workspace
) -> None:
    async with CardPublisher(
        client, clock=time.monotonic, posts_per_second=50, post_burst=2
    ) as publisher:
        channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
        await asyncio.gather(*(publisher.reply(channel, ts, msg(f"n{n}")) for n in range(8)))
    assert [m.text for m in ws.thread(CHANNEL, ts)[1:]] == [f"n{n}" for n in range(8)]


async def test_a_rate_limited_reply_is_retried(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    emu.rate_limit("chat.postMessage", times=1, retry_after=30)  # capped to 0.2 s
    await publisher.reply(channel, ts, msg("first"))
    await publisher.reply(channel, ts, msg("second"))
    assert [m.text for m in ws.thread(CHANNEL, ts)[1:]] == ["first", "second"]


async def test_a_failed_reply_is_reported_and_the_thread_goes_on(
    publisher: CardPublisher, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    assert await publisher.reply(channel, "1.000001", msg("lost")) is None
    assert [(e.method, e.error) for e in errors] == [("chat.postMessage", "thread_not_found")]
    assert await publisher.reply(channel, ts, msg("kept")) is not None
    assert [m.text for m in ws.thread(CHANNEL, ts)[1:]] == ["kept"]


async def test_a_stage_chart_is_shared_in_the_thread_in_order_with_the_replies(
    publisher: CardPublisher, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    start = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    points = [ChartPoint(start + timedelta(seconds=30 * i), 0.002, 180.0) for i in range(4)]
    png = await render_stage_chart(
        "prod v1.3.0 · stage 1/4 · 5 %", points, points, max_error_rate=0.01, max_p95_ms=500
    )
    answers = await asyncio.gather(
        publisher.reply(channel, ts, msg("stage 1 started")),
        publisher.upload(channel, ts, "stage-1.png", png, "Stage 1 of 4", "stage 1: passed"),
        publisher.reply(channel, ts, msg("stage 2 started")),
    )
    thread = ws.thread(CHANNEL, ts)[1:]
    assert [m.text for m in thread] == ["stage 1 started", "stage 1: passed", "stage 2 started"]
    (chart,) = thread[1].files
    assert answers[1] == chart.id
    assert (chart.title, chart.name, chart.mimetype) == ("Stage 1 of 4", "stage-1.png", "image/png")
    assert chart.content == png
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


async def test_an_upload_without_a_comment_is_a_file_only_reply(
    publisher: CardPublisher, ws: Workspace
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    assert await publisher.upload(channel, ts, "c.png", PNG, "chart") is not None
    (reply,) = ws.thread(CHANNEL, ts)[1:]
    assert (reply.text, [f.content for f in reply.files]) == ("", [PNG])


async def test_a_failed_upload_is_reported_and_the_thread_goes_on(
    publisher: CardPublisher, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    assert await publisher.upload(channel, "1.000001", "c.png", PNG, "chart") is None
    assert [(e.method, e.error, e.channel) for e in errors] == [
        ("files.completeUploadExternal", "thread_not_found", CHANNEL)
    ]
    assert await publisher.reply(channel, ts, msg("kept")) is not None
    assert ws.shared_files(CHANNEL) == []


async def test_a_rate_limited_upload_is_retried_and_shared_once(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    emu.rate_limit("files.completeUploadExternal", times=1, retry_after=30)  # capped to 0.2 s
    file_id = await publisher.upload(channel, ts, "c.png", PNG, "chart")
    assert [f.id for f in ws.shared_files(CHANNEL, thread_ts=ts)] == [file_id]
    assert [c.status for c in ws.calls_to("files.completeUploadExternal")] == [429, 200]
    assert errors == []


async def test_a_transient_failure_of_the_first_step_is_retried(
    publisher: CardPublisher, emu: SlackEmulator, ws: Workspace, errors: list[CardPublishError]
) -> None:
    channel, ts = await publisher.post_card("dep-1", CHANNEL, msg("card"))
    emu.fail_next("files.getUploadURLExternal", "internal_error")
    assert await publisher.upload(channel, ts, "c.png", PNG, "chart") is not None
    assert len(ws.shared_files(CHANNEL, thread_ts=ts)) == 1
    assert errors == []


async def test_an_upload_needs_content_and_an_open_publisher(client: AsyncWebClient) -> None:
    publisher = CardPublisher(client, clock=time.monotonic)
    with pytest.raises(ValueError, match="content"):
        await publisher.upload(CHANNEL, "1.0", "c.png", b"", "chart")
    await publisher.close()
    with pytest.raises(PublisherClosed):
        await publisher.upload(CHANNEL, "1.0", "c.png", PNG, "chart")


async def test_post_card_failure_raises_a_typed_error(publisher: CardPublisher) -> None:
    with pytest.raises(CardPublishError, match="channel_not_found") as raised:
        await publisher.post_card("dep-1", "#nope", msg("card"))
    assert raised.value.deployment_id == "dep-1"


async def test_a_message_without_fallback_text_is_refused(publisher: CardPublisher) -> None:
    with pytest.raises(ValueError, match="fallback 'text'"):
        publisher.update("dep-1", CHANNEL, "1.0", {"blocks": []})
    with pytest.raises(ValueError, match="fallback 'text'"):
        await publisher.post_card("dep-1", CHANNEL, {"text": ""})


async def test_close_flushes_then_refuses_more_work(client: AsyncWebClient, ws: Workspace) -> None:
    publisher = CardPublisher(client, clock=time.monotonic, min_interval=0.05)
    cards = [await publisher.post_card(f"dep-{i}", CHANNEL, msg("v0")) for i in range(3)]
    for n in range(1, 4):
        for i, (channel, ts) in enumerate(cards):
            publisher.update(f"dep-{i}", channel, ts, msg(f"v{n}"))
        await asyncio.sleep(0)
    await publisher.close()
    assert [ws.message(CHANNEL, ts).text for _, ts in cards] == ["v3"] * 3
    with pytest.raises(PublisherClosed):
        publisher.update("dep-0", *cards[0], msg("late"))
    with pytest.raises(PublisherClosed):
        await publisher.reply(*cards[0], msg("late"))
    await publisher.close()


async def test_flush_of_an_unknown_deployment_returns_at_once(publisher: CardPublisher) -> None:
    await publisher.flush("dep-unknown")


def test_bad_pacing_is_refused(client: AsyncWebClient) -> None:
    with pytest.raises(ValueError, match="min_interval"):
        CardPublisher(client, clock=time.monotonic, min_interval=-1)


def test_pace_lets_a_burst_through_then_spaces_calls() -> None:
    now = [100.0]
    pace = Pace(10.0, 3, lambda: now[0])
    assert [pace.reserve() for _ in range(5)] == [0.0, 0.0, 0.0, 10.0, 20.0]
    now[0] = 140.0
    assert pace.reserve() == 0.0
    pace.hold(7.0)
    assert pace.reserve() == 7.0


def test_pace_accepts_a_datetime_clock() -> None:
    start = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    pace = Pace(2.0, 1, lambda: start)
    assert [pace.reserve() for _ in range(3)] == [0.0, 2.0, 4.0]


def test_pace_without_an_interval_never_waits_and_a_frozen_clock_cannot_stall_it() -> None:
    assert [Pace(0.0, 1, lambda: 5.0).reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    frozen = Pace(0.5, 1, lambda: 5.0)
    assert [frozen.reserve() for _ in range(4)] == [0.0, 0.5, 1.0, 1.5]
