"""Slack's external file upload flow in the emulator, through the real slack_sdk client."""

from __future__ import annotations

import json

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slackemu import SlackEmulator, Workspace, render_message

CHANNEL = "C0DEPLOYS"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # a PNG signature and some bytes


async def card(client: AsyncWebClient) -> str:
    answer = await client.chat_postMessage(channel=CHANNEL, text="deploy card")
    return str(answer["ts"])


async def reserve(client: AsyncWebClient, content: bytes = PNG) -> tuple[str, str]:
    answer = await client.files_getUploadURLExternal(filename="stage-1.png", length=len(content))
    return str(answer["file_id"]), str(answer["upload_url"])


async def post_bytes(url: str, content: bytes) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(url, data=content) as answer:
        return answer.status, await answer.text()


async def test_files_upload_v2_puts_the_file_in_the_thread(
    client: AsyncWebClient, ws: Workspace
) -> None:
    ts = await card(client)
    answer = await client.files_upload_v2(
        channel=CHANNEL,
        thread_ts=ts,
        filename="stage-1.png",
        content=PNG,
        title="Stage 1 of 4",
        initial_comment="stage 1: 5 % for 5 min",
    )
    file_id = answer["file"]["id"]
    reply = ws.thread(CHANNEL, ts)[1]
    assert reply.text == "stage 1: 5 % for 5 min"
    assert [(f.id, f.title, f.content) for f in reply.files] == [(file_id, "Stage 1 of 4", PNG)]
    assert ws.shared_files(CHANNEL, thread_ts=ts)[0].mimetype == "image/png"
    assert ws.messages(CHANNEL) == [ws.message(CHANNEL, ts)]  # a reply, not in the channel


async def test_the_thread_reply_reads_back_through_the_api(
    client: AsyncWebClient, ws: Workspace
) -> None:
    ts = await card(client)
    await client.files_upload_v2(channel=CHANNEL, thread_ts=ts, filename="c.png", content=PNG)
    replies = await client.conversations_replies(channel=CHANNEL, ts=ts)
    shared = replies["messages"][1]
    assert shared["upload"] is True
    assert shared["files"][0]["name"] == "c.png"
    assert shared["files"][0]["size"] == len(PNG)
    info = await client.files_info(file=shared["files"][0]["id"])
    assert info["file"]["shares"] == {"public": {CHANNEL: [{"ts": shared["ts"]}]}}


async def test_step_by_step_and_an_upload_that_is_never_completed_is_not_shared(
    client: AsyncWebClient, ws: Workspace
) -> None:
    file_id, url = await reserve(client)
    assert url.startswith(client.base_url.removesuffix("api/"))
    assert await post_bytes(url, PNG) == (200, f"OK - {len(PNG)}")
    assert ws.files.get(file_id).content == PNG
    assert ws.shared_files(CHANNEL) == []
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_info(file=file_id)


async def test_a_multipart_upload_is_accepted(client: AsyncWebClient, ws: Workspace) -> None:
    file_id, url = await reserve(client)
    form = aiohttp.FormData()
    form.add_field("filename", PNG, filename="stage-1.png", content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(url, data=form) as answer:
        assert answer.status == 200
    assert ws.files.get(file_id).content == PNG


async def test_the_byte_count_must_be_the_announced_length(
    client: AsyncWebClient, ws: Workspace
) -> None:
    file_id, url = await reserve(client)
    status, _ = await post_bytes(url, PNG[:-1])
    assert status == 400
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id=CHANNEL)


async def test_an_upload_url_is_used_once_and_unknown_ones_are_404(
    client: AsyncWebClient, emu: SlackEmulator
) -> None:
    _, url = await reserve(client)
    assert (await post_bytes(url, PNG))[0] == 200
    assert (await post_bytes(url, PNG))[0] == 409
    assert (await post_bytes(emu.base_url + "upload/v1/F404", PNG))[0] == 404


async def test_unknown_uncompleted_and_twice_completed_files_are_not_found(
    client: AsyncWebClient, ws: Workspace
) -> None:
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(files=[{"id": "F0NOPE"}], channel_id=CHANNEL)
    waiting, _ = await reserve(client)
    with pytest.raises(SlackApiError, match="file_not_found"):  # its bytes never arrived
        await client.files_completeUploadExternal(files=[{"id": waiting}], channel_id=CHANNEL)
    done, url = await reserve(client)
    await post_bytes(url, PNG)
    await client.files_completeUploadExternal(files=[{"id": done}], channel_id=CHANNEL)
    with pytest.raises(SlackApiError, match="file_not_found"):
        await client.files_completeUploadExternal(files=[{"id": done}], channel_id=CHANNEL)
    assert len(ws.shared_files(CHANNEL)) == 1


async def test_a_refused_share_changes_nothing(client: AsyncWebClient, ws: Workspace) -> None:
    ws.add_channel("C0QUIET", "quiet", bot_is_member=False)
    file_id, url = await reserve(client)
    await post_bytes(url, PNG)
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C0QUIET")
    with pytest.raises(SlackApiError, match="thread_not_found"):
        await client.files_completeUploadExternal(
            files=[{"id": file_id}], channel_id=CHANNEL, thread_ts="1.000001"
        )
    assert not ws.files.get(file_id).completed
    answer = await client.files_completeUploadExternal(
        files=[{"id": file_id, "title": "kept"}], channel_id=CHANNEL
    )
    assert answer["files"] == [{"id": file_id, "title": "kept"}]


async def test_completed_without_a_channel_the_file_stays_private(
    client: AsyncWebClient, ws: Workspace
) -> None:
    file_id, url = await reserve(client)
    await post_bytes(url, PNG)
    await client.files_completeUploadExternal(files=[{"id": file_id}])
    info = await client.files_info(file=file_id)
    assert info["file"]["shares"] == {}
    assert ws.shared_files(CHANNEL) == []


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"filename": "x.png"}, "invalid_arguments"),
        ({"length": "10"}, "invalid_arguments"),
        ({"filename": "x.png", "length": "0"}, "invalid_arguments"),
        ({"filename": "x.png", "length": "ten"}, "invalid_arguments"),
    ],
)
async def test_get_upload_url_needs_a_name_and_a_length(
    client: AsyncWebClient, args: dict[str, str], error: str
) -> None:
    with pytest.raises(SlackApiError, match=error):
        await client.api_call("files.getUploadURLExternal", params=args)


async def test_complete_needs_files_with_ids(client: AsyncWebClient) -> None:
    for files in ("", "[]", json.dumps([{"title": "no id"}]), "not json"):
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            await client.api_call("files.completeUploadExternal", params={"files": files})


async def test_the_console_shows_a_shared_file(client: AsyncWebClient, ws: Workspace) -> None:
    ts = await card(client)
    await client.files_upload_v2(
        channel=CHANNEL, thread_ts=ts, filename="stage-1.png", content=PNG, title="Stage 1"
    )
    lines = render_message(ws.thread(CHANNEL, ts)[1], ws.names()).lines
    assert lines[1] == "  [file] Stage 1 (stage-1.png), image/png, 1 KB"
