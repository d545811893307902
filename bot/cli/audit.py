"""`deploybot audit verify | export`: read an existing audit log, never create one."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.checkpoints import read_checkpoints, slack_reason
from storage import Checkpoint, Keyring, StorageError, Store, VerifyResult, default_database_url
from storage import parse_checkpoints as parse
from storage.db import database_file

WHERE = "set DEPLOYBOT_DATABASE_URL or pass --database PATH|URL"


def database_url(given: str | None, env: dict[str, str], cwd: Path) -> str:
    """``--database`` (a path or a URL), else ``$DEPLOYBOT_DATABASE_URL``, else ./deploybot.db."""
    if given:
        return given if "://" in given else f"sqlite+aiosqlite:///{Path(given).resolve()}"
    return env.get("DEPLOYBOT_DATABASE_URL") or default_database_url(cwd)


def _missing(url: str) -> str | None:
    """Why ``url`` cannot be read, when it names no database (opening it would create one)."""
    try:
        path = database_file(url)
    except StorageError as error:
        return str(error)
    if path is not None and not path.is_file():
        return f"no audit database at {path} ({WHERE})"
    return None


async def _open(url: str) -> Store | None:
    """The store at ``url``, or None after saying on standard error why not."""
    problem = _missing(url)
    if problem is None:
        try:
            return await Store.open(url)
        except StorageError as error:
            problem = str(error)
    print(f"deploybot: {problem}", file=sys.stderr)
    return None


@dataclass(frozen=True)
class SlackCheckpoints:
    """Where ``--against-slack`` reads: the bot's client and its checkpoint channel."""

    client: AsyncWebClient
    channel: str


async def verify(
    url: str,
    out: TextIO,
    *,
    keyring: Keyring | None = None,
    checkpoint_files: Sequence[Path] = (),
    slack: SlackCheckpoints | None = None,
) -> int:
    """Exit 0 intact, 1 broken, 2 when it cannot be checked (no database, no checkpoints,
    or a key that is not the one the log was written with)."""
    points = await _checkpoints(checkpoint_files, slack)
    if points is None:
        return 2
    store = await _open(url)
    if store is None:
        return 2
    try:
        result = await store.audit.verify(keyring=keyring, checkpoints=points)
    finally:
        await store.close()
    if result.ok:
        print(f"audit log intact: {result.checked} row(s) verified", file=out)
        for line in _layers(result, keyring, points):
            print(f"  {line}", file=out)
        if result.last_seq:
            mac = result.last_mac if keyring else None
            print(Checkpoint(result.last_seq, result.last_hash, mac).line(), file=out)
        return 0
    where = f"at row {result.first_bad_seq}" if result.first_bad_seq is not None else "(head row)"
    if result.key_mismatch:
        print(f"deploybot: cannot check the key: {result.problem}", file=sys.stderr)
        return 2
    print(f"audit log BROKEN {where}: {result.problem}", file=sys.stderr)
    return 1


def _layers(result: VerifyResult, keyring: Keyring | None, points: list[Checkpoint]) -> list[str]:
    lines = ["plain hash chain: intact"]
    if keyring is None:
        lines.append("key: not checked (DEPLOYBOT_AUDIT_KEY is not set)")
    else:
        earlier = (
            f"; {result.plain_only} earlier row(s) are covered only by the plain chain"
            if result.plain_only
            else ""
        )
        lines.append(f"key {keyring.current.key_id}: {result.keyed} row(s) keyed{earlier}")
    if not points:
        lines.append("checkpoints: none given (--checkpoint FILE, --against-slack)")
    else:
        newest = max(points, key=lambda p: p.seq)
        lines.append(
            f"checkpoints: {len(points)} matched, the newest at row {newest.seq}"
            + (f" ({newest.at})" if newest.at else "")
        )
    return lines


async def _checkpoints(
    files: Sequence[Path], slack: SlackCheckpoints | None
) -> list[Checkpoint] | None:
    """Every checkpoint asked for, or None after saying on standard error why not."""
    points: list[Checkpoint] = []
    for path in files:
        try:
            found = parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            return _cannot(f"cannot read checkpoint file {path}: {error}")
        if not found:
            return _cannot(f"no checkpoint line in {path} (expected deploybot-audit-checkpoint …)")
        points.extend(found)
    if slack is not None:
        try:
            found = await read_checkpoints(slack.client, slack.channel)
        except LookupError as error:
            return _cannot(str(error))
        except (SlackApiError, aiohttp.ClientError, OSError) as error:
            return _cannot(f"cannot read {slack.channel} from Slack: {slack_reason(error)}")
        if not found:
            return _cannot(f"no checkpoints from deploybot in {slack.channel}")
        points.extend(found)
    return points


def _cannot(problem: str) -> list[Checkpoint] | None:
    """Say why the checkpoints cannot be had; the caller returns what this returns (None)."""
    print(f"deploybot: {problem}", file=sys.stderr)
    return None


async def export(
    url: str,
    fmt: Literal["jsonl", "csv"],
    since: datetime | None,
    output: Path | None,
    out: TextIO,
) -> int:
    store = await _open(url)
    if store is None:
        return 2
    try:
        with contextlib.ExitStack() as stack:
            target = (
                stack.enter_context(output.open("w", newline="", encoding="utf-8"))
                if output
                else out
            )
            count = await store.audit.export(fmt, target, since)
    finally:
        await store.close()
    if output:
        print(f"wrote {count} row(s) to {output}", file=out)
    return 0
