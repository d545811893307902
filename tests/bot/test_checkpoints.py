"""The checkpoint publisher and reader against the Slack emulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.checkpoints import CheckpointPublisher, channel_id_of, message_text, read_checkpoints
from bot.slackemu import SlackEmulator, Workspace, reference_workspace
from storage import AuditKey, Checkpoint, Keyring, Store, default_database_url, parse_checkpoints

TOKEN = "xoxb-test"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def ws() -> Workspace:
    workspace = reference_workspace()
    workspace.add_channel("C0AUDIT", "deploy-audit")
    return workspace


@pytest.fixture
async def client(ws: Workspace) -> AsyncIterator[AsyncWebClient]:
    async with SlackEmulator.start(ws, bot_token=TOKEN, signing_secret="s") as emu:
        yield AsyncWebClient(token=TOKEN, base_url=emu.api_url)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store.open(
        default_database_url(tmp_path), audit_keys=Keyring(AuditKey.from_text("k" * 32))
    ) as opened:
        yield opened


def posted(ws: Workspace) -> list[Checkpoint]:
    return [p for m in ws.messages("C0AUDIT") for p in parse_checkpoints(m.text)]


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_posts_the_newest_row_at_most_once_per_interval(
    ws: Workspace, client: AsyncWebClient, store: Store
) -> None:
    publisher = CheckpointPublisher(client, "#deploy-audit", 1.0, lambda: NOW)
    store.audit.subscribe(publisher.observe)
    publisher.start()
    first = await store.audit.append("alice", "one")
    await eventually(lambda: len(posted(ws)) == 1)
    assert posted(ws) == [Checkpoint(1, first.hash, first.mac, "2026-11-21T10:00:00Z")]
    for n in range(5):
        last = await store.audit.append("alice", f"more.{n}")
    await asyncio.sleep(0.3)
    assert len(posted(ws)) == 1  # the interval has not passed yet
    await eventually(lambda: len(posted(ws)) == 2)
    assert posted(ws)[-1] == Checkpoint(6, last.hash, last.mac, "2026-11-21T10:00:00Z")
    await asyncio.sleep(1.3)
    assert len(posted(ws)) == 2  # nothing new, nothing posted
    await store.audit.append("alice", "last")
    await publisher.close()  # posts what the interval has not yet covered
    assert [p.seq for p in posted(ws)] == [1, 6, 7]
    assert (await store.audit.verify(checkpoints=posted(ws))).ok


async def test_a_failed_post_is_retried_and_never_raises(
    ws: Workspace, client: AsyncWebClient, store: Store
) -> None:
    publisher = CheckpointPublisher(client, "#nowhere", 0.1, lambda: NOW)
    store.audit.subscribe(publisher.observe)
    publisher.start()
    await store.audit.append("alice", "one")
    await eventually(lambda: publisher.failures >= 2)
    assert publisher.posted == 0
    ws.add_channel("C0NOWHERE", "nowhere")
    await eventually(lambda: publisher.posted == 1)
    await publisher.close()
    assert publisher.posted == 1


async def test_the_reader_takes_only_the_bots_own_checkpoints(
    ws: Workspace, client: AsyncWebClient
) -> None:
    genuine = Checkpoint(3, "a" * 64, None, "2026-11-21T10:00:00Z")
    ws.post_message("C0AUDIT", message_text(genuine))
    ws.post_message("C0AUDIT", Checkpoint(9, "b" * 64).line(), user="U0ALICE")
    ws.post_message("C0AUDIT", "just chatting")
    assert await read_checkpoints(client, "#deploy-audit") == [genuine]
    assert await channel_id_of(client, "C0AUDIT") == "C0AUDIT"
    with pytest.raises(LookupError, match="no channel named #missing"):
        await channel_id_of(client, "#missing")


def test_the_message_reads_for_people_and_parses_for_the_verifier() -> None:
    point = Checkpoint(1234, "ab" * 32, "cd" * 32, "2026-11-21T10:00:00Z")
    text = message_text(point)
    assert text.startswith("Audit checkpoint: 1,234 rows · head `abababababab…`")
    assert parse_checkpoints(f"pasted from Slack:\n{text}\nand again {text}") == [point, point]
