"""Injectable time for the emulator, and Slack-style message timestamps."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
"""Seconds since the epoch, like :func:`time.time`."""


def system_clock() -> float:
    return time.time()


class ManualClock:
    """A clock that only moves when told to, for deterministic tests."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.now += seconds


class TsFactory:
    """Makes message ``ts`` strings ("1700000000.000100") that strictly increase.

    Slack's ts is seconds with six decimal places; two messages never share one. If the
    clock stands still (or goes back) the next ts is the previous one plus a microsecond.
    """

    def __init__(self, clock: Clock):
        self._clock = clock
        self._last_micros = 0

    def next(self) -> str:
        micros = max(round(self._clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return format_ts(micros)


def format_ts(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{seconds}.{fraction:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for ts strings (string order breaks when the seconds gain a digit)."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int(fraction.ljust(6, "0")[:6] or 0)
