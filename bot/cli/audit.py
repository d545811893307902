"""`deploybot audit verify | export`: read an existing audit log, never create one."""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from storage import StorageError, Store, default_database_url
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


async def verify(url: str, out: TextIO) -> int:
    store = await _open(url)
    if store is None:
        return 2
    try:
        result = await store.audit.verify()
    finally:
        await store.close()
    if result.ok:
        print(f"audit log intact: {result.checked} row(s) verified", file=out)
        return 0
    where = f"at row {result.first_bad_seq}" if result.first_bad_seq is not None else "(head row)"
    print(f"audit log BROKEN {where}: {result.problem}", file=sys.stderr)
    return 1


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
