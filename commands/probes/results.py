"""What a health check found, as values a renderer can turn into a table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """One row: ``value`` is what was measured, ``threshold`` what it was held against."""

    name: str
    ok: bool
    detail: str
    value: float | str | None = None
    threshold: float | str | None = None
    duration_ms: float = 0.0


@dataclass(frozen=True)
class HealthReport:
    target: str
    """The base URL that was checked."""
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def summary(self) -> str:
        """One line, e.g. ``8/9 checks passed; failed: latency``."""
        passed = len(self.checks) - len(self.failures)
        text = f"{passed}/{len(self.checks)} checks passed"
        if self.failures:
            text += "; failed: " + ", ".join(check.name for check in self.failures)
        return text
