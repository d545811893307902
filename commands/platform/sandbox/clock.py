"""A sandbox clock moved by hand (tests, scripted demos): ``Sandbox.start(clock=ManualClock())``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
        if self.now.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start time")

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
