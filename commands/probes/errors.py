"""The one error a metric reader raises."""

from __future__ import annotations


class MetricsUnavailable(Exception):
    """The metric source could not answer (unreachable, bad query, bad response)."""

    def __init__(self, source: str, target: str, detail: str) -> None:
        super().__init__(source, target, detail)
        self.source = source
        self.target = target
        self.detail = detail

    def __str__(self) -> str:
        return f"metrics for {self.target} from {self.source} unavailable: {self.detail}"
