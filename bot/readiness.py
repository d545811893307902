"""Readiness of one bot instance, as /readyz reports it.

The bot is ready once three things have happened, each marked once by whoever sees it:

- ``database``: the store is open (mark with ``database_open`` after ``Store.open``);
- ``slack``: Slack accepted the bot token (``slack_authenticated`` after a successful
  ``auth.test``);
- ``azure``: ARM answered a request (``azure_answered``). ``observe_azure_call`` has the
  ``CallObserver`` signature and marks it on the first call whose outcome is ``"ok"``, so it
  can sit next to the audit and metrics observers on the platform's call path.

Marks are never taken back: this is "has started up", not a health check (``/healthz`` is
liveness). A need can be ``waive``-d when this instance has nothing to wait for (e.g. it runs
no Azure platform).
"""

from __future__ import annotations

from typing import Any

NEEDS = ("database", "slack", "azure")


class Readiness:
    def __init__(self) -> None:
        self._missing: dict[str, None] = dict.fromkeys(NEEDS)  # ordered set

    def database_open(self) -> None:
        self._mark("database")

    def slack_authenticated(self) -> None:
        self._mark("slack")

    def azure_answered(self) -> None:
        self._mark("azure")

    def waive(self, need: str) -> None:
        """Stop waiting for ``need`` (one of ``NEEDS``)."""
        if need not in NEEDS:
            raise ValueError(f"unknown readiness need {need!r}; expected one of {NEEDS}")
        self._mark(need)

    def observe_azure_call(
        self, operation: str, resource: str, outcome: str, duration_s: float, error_code: str | None
    ) -> None:
        """A ``CallObserver``: the first Azure call that succeeded marks ``azure``."""
        if outcome == "ok":
            self._mark("azure")

    @property
    def ready(self) -> bool:
        return not self._missing

    @property
    def missing(self) -> list[str]:
        return list(self._missing)

    def status(self) -> dict[str, Any]:
        """``{"status": "ready" | "waiting", "missing": [...], "database": "ok" | "waiting", …}``"""
        return {
            "status": "ready" if self.ready else "waiting",
            "missing": self.missing,
            **{need: "waiting" if need in self._missing else "ok" for need in NEEDS},
        }

    def _mark(self, need: str) -> None:
        self._missing.pop(need, None)
