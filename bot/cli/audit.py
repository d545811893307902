"""`deploybot audit verify | export`."""

from __future__ import annotations

import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from storage import Store


async def verify(url: str, out: TextIO) -> int:
    store = await Store.open(url)
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
    store = await Store.open(url)
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
