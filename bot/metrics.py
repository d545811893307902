"""Prometheus metrics of one bot instance, in a registry of its own (no process globals).

Deployment, rollback and approval series are derived from the audit log (``on_audit``,
subscribed with ``AuditLog.subscribe``), so they agree with it: every ``deployment.finished``
row is one increment of ``deploybot_deployments_total``. Azure series come from the
platform's call observer (``observe_azure_call``). Labels hold only bounded values
(environments, strategies, outcomes, operation names), never resource ids or versions.

Counters are declared with their exposed ``_total`` name (prometheus-client keeps it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from commands.platform.base import CallObserver
from storage import AuditEvent

log = logging.getLogger(__name__)

#: At most this many distinct Azure operation names get a series of their own; any further
#: name (a bug: operations are literals in commands/platform) is counted as "other".
MAX_OPERATIONS = 64
AZURE_OUTCOMES = frozenset({"ok", "retry", "error"})

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5)
AZURE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
DEPLOYMENT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
APPROVAL_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # -- the Slack edge ---------------------------------------------------------------
        self.slack_requests = Counter(
            "deploybot_slack_requests_total",
            "Requests received on /slack/events, by outcome",
            ["outcome"],
            registry=r,
        )
        self.slack_refused = Counter(
            "deploybot_slack_refused_total",
            "Requests on /slack/events refused before Bolt saw them, by stage (signature or "
            "envelope) and reason (a fixed set: bot.signing.Unauthorized, bot.envelope.Reason)",
            ["stage", "reason"],
            registry=r,
        )
        self.slack_commands = Counter(
            "deploybot_slack_commands_total",
            "Slash commands acknowledged on /slack/events (counted before the ack is sent)",
            ["command"],
            registry=r,
        )
        self.commands = Counter(
            "deploybot_commands_total",
            "Slash commands answered, by command and outcome (answered or error)",
            ["command", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "deploybot_slack_request_seconds",
            "Time to answer a request on /slack/events, reading the body included",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3),
            registry=r,
        )
        self.slack_ack_seconds = Histogram(
            "deploybot_slack_ack_seconds",
            "Time Bolt took to dispatch a request on /slack/events: listeners ack, then "
            "hand their work to a task, so this is the time to acknowledge",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        # -- deployments, from the audit log ---------------------------------------------
        self.deployments = Counter(
            "deploybot_deployments_total",
            "Deployments finished (one per deployment.finished audit row)",
            ["environment", "strategy", "outcome"],
            registry=r,
        )
        self.deployment_seconds = Histogram(
            "deploybot_deployment_duration_seconds",
            "Time from request to terminal state (approval wait included)",
            ["environment", "outcome"],
            buckets=DEPLOYMENT_BUCKETS,
            registry=r,
        )
        self.rollbacks = Counter(
            "deploybot_rollbacks_total",
            "Rollbacks that ran to a terminal state, whatever their outcome: automatic "
            "(the job's own checks after the switch) or manual (a person asked)",
            ["environment", "trigger"],
            registry=r,
        )
        self.approval_wait_seconds = Histogram(
            "deploybot_approval_wait_seconds",
            "Time from a request to the approval that let its job start",
            ["environment"],
            buckets=APPROVAL_BUCKETS,
            registry=r,
        )
        # -- Azure, from the platform's call observer ------------------------------------
        self.azure_requests = Counter(
            "deploybot_azure_requests_total",
            "Azure requests (each attempt), by operation and outcome (ok, retry, error)",
            ["operation", "outcome"],
            registry=r,
        )
        self.azure_request_seconds = Histogram(
            "deploybot_azure_request_seconds",
            "Latency of one Azure request attempt, by operation",
            ["operation"],
            buckets=AZURE_BUCKETS,
            registry=r,
        )
        # -- jobs ------------------------------------------------------------------------
        self.jobs_in_flight = Gauge(
            "deploybot_jobs_in_flight",
            "Deployment jobs running in this process",
            registry=r,
        )
        self._operations: set[str] = set()
        # Deployment id → when its approvals were asked for; until it is queued or finished.
        self._awaiting_approval: dict[str, datetime] = {}
        # Deployment ids a person asked to roll back while they were being watched.
        self._rollback_asked: set[str] = set()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def track_jobs(self, count: Callable[[], int]) -> None:
        """Read ``deploybot_jobs_in_flight`` from ``count()`` at every scrape."""
        self.jobs_in_flight.set_function(lambda: float(count()))

    # -- Azure ---------------------------------------------------------------------------
    def observe_azure_call(
        self, operation: str, resource: str, outcome: str, duration_s: float, error_code: str | None
    ) -> None:
        """A ``CallObserver``; ``resource`` and ``error_code`` are deliberately not labels."""
        name = self._operation(operation)
        self.azure_requests.labels(name, outcome if outcome in AZURE_OUTCOMES else "other").inc()
        self.azure_request_seconds.labels(name).observe(max(0.0, duration_s))

    def _operation(self, operation: str) -> str:
        if operation in self._operations:
            return operation
        if len(self._operations) >= MAX_OPERATIONS:
            return "other"
        self._operations.add(operation)
        return operation

    # -- the audit log -------------------------------------------------------------------
    def on_audit(self, row: AuditEvent) -> None:
        """An ``AuditLog`` subscriber: map one committed row onto the series it feeds.

        - ``<kind>.requested`` with ``approvals_required`` > 0 starts an approval wait;
          ``deployment.state`` pending_approval → queued ends it (the approval that let the
          job start) and observes ``deploybot_approval_wait_seconds``.
        - ``rollback.requested`` on a deployment (a person's Roll back, by button or by
          command, while it is watched) makes its later roll-back a manual one.
        - ``deployment.finished``: ``deploybot_deployments_total`` and the duration
          histogram; if it was a rollback, ``deploybot_rollbacks_total``: trigger
          ``manual`` for a ``kind == "rollback"`` deployment (``/rollback`` or the card's
          button created it) or a person's request, else ``automatic``. A rollback is a
          finished row with kind ``rollback``, outcome ``rolled_back``, or previous state
          ``rolling_back`` (the switch back itself failed).

        The rows do not say whether a person used the button or the command in every case
        (``rollback.requested`` of a watched deployment carries no reason), so the trigger
        is only ``automatic`` or ``manual``.
        """
        try:
            self._on_audit(row)
        except Exception:  # a malformed row must not stop the series of later rows
            log.exception("metrics could not read audit row %s (%s)", row.seq, row.action)

    def _on_audit(self, row: AuditEvent) -> None:
        action, details, deployment = row.action, row.details, row.deployment_id
        if deployment is None or row.environment is None:
            return
        if action == "deployment.finished":
            self._finished(row.environment, deployment, details)
        elif action == "deployment.state":
            if details.get("previous") == "pending_approval" and details.get("state") == "queued":
                asked = self._awaiting_approval.pop(deployment, None)
                if asked is not None:
                    wait = max(0.0, (row.at - asked).total_seconds())
                    self.approval_wait_seconds.labels(row.environment).observe(wait)
        elif action.endswith(".requested"):
            if _positive(details.get("approvals_required")):
                self._awaiting_approval[deployment] = row.at
            if action == "rollback.requested" and "approvals_required" not in details:
                self._rollback_asked.add(deployment)

    def _finished(self, environment: str, deployment: str, details: Any) -> None:
        self._awaiting_approval.pop(deployment, None)
        asked = deployment in self._rollback_asked
        self._rollback_asked.discard(deployment)
        outcome = _label(details.get("outcome"))
        strategy = _label(details.get("strategy"))
        self.deployments.labels(environment, strategy, outcome).inc()
        manual = details.get("kind") == "rollback"
        if manual or outcome == "rolled_back" or details.get("previous_state") == "rolling_back":
            trigger = "manual" if manual or asked else "automatic"
            self.rollbacks.labels(environment, trigger).inc()
        duration = details.get("duration_s")
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            self.deployment_seconds.labels(environment, outcome).observe(max(0.0, duration))


def _label(value: object) -> str:
    return value if isinstance(value, str) and value else "unknown"


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def fan_out(*observers: CallObserver) -> CallObserver:
    """One ``CallObserver`` that tells each of ``observers`` in turn; one that raises is
    logged and the rest are still told (the platform's own guard would stop at the first)."""

    def observe(
        operation: str, resource: str, outcome: str, duration_s: float, error_code: str | None
    ) -> None:
        for observer in observers:
            try:
                observer(operation, resource, outcome, duration_s, error_code)
            except Exception:
                log.exception("Azure call observer %r failed for %s", observer, operation)

    return observe
