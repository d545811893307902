"""What a configuration error says: the file, and each key with what was expected.

Kept apart from the pydantic model so that modes which never read a configuration (the
sandbox, audit) can still catch ``ConfigError`` without importing pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    key: str
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: {self.expected}" if self.key else self.expected


class ConfigError(Exception):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: invalid configuration\n{lines}")
