"""Checkpoints: the log's length and head hash, kept outside the database.

One checkpoint is one line of text, the same in a Slack message, a file or a terminal::

    deploybot-audit-checkpoint seq=1234 hash=<64 hex> [mac=<64 hex>] at=2026-11-21T10:00:00Z

``mac`` is row ``seq``'s MAC when that row was keyed. ``parse_checkpoints`` finds every such
line anywhere in a text, so a checkpoint file can be the bot's Slack messages pasted one after
another, ``deploybot audit verify`` output appended to a file, or a hand-written list. The check
itself runs inside the chain walk (``audit_verify``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = "deploybot-audit-checkpoint"
_LINE = re.compile(
    rf"{MARKER} seq=(?P<seq>\d+) hash=(?P<hash>[0-9a-f]{{64}})"
    r"(?: mac=(?P<mac>[0-9a-f]{64}))?(?: at=(?P<at>[0-9][0-9T:.+Z-]*))?"
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    mac: str | None = None
    at: str | None = None

    def line(self) -> str:
        mac = f" mac={self.mac}" if self.mac else ""
        at = f" at={self.at}" if self.at else ""
        return f"{MARKER} seq={self.seq} hash={self.hash}{mac}{at}"

    @property
    def label(self) -> str:
        """How a report names this checkpoint."""
        return f"the checkpoint of {self.at}" if self.at else f"the checkpoint at row {self.seq}"


def parse_checkpoints(text: str) -> list[Checkpoint]:
    return [
        Checkpoint(int(m["seq"]), m["hash"], m["mac"], m["at"])
        for m in _LINE.finditer(text)
        if int(m["seq"]) > 0
    ]
