"""One log line per interval for something that may happen thousands of times a second."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable


class Summary:
    """Counts events by reason; logs one warning summarising them at most every ``interval``
    seconds. The first event is logged at once, so an operator learns of a flood when it
    starts; later ones wait for the next event after the interval (metrics count each)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger, self._what, self._interval, self._clock = logger, what, interval, clock
        self._counts: Counter[str] = Counter()
        self._since = clock()
        self._next = float("-inf")

    def note(self, reason: str) -> None:
        self._counts[reason] += 1
        now = self._clock()
        if now < self._next:
            return
        total = sum(self._counts.values())
        reasons = ", ".join(f"{r}={n}" for r, n in sorted(self._counts.items()))
        self._logger.warning(
            "%s: %d in the last %.0f s (%s)", self._what, total, now - self._since, reasons
        )
        self._counts.clear()
        self._since, self._next = now, now + self._interval
