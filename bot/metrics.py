"""Prometheus metrics of one bot instance, in a registry of its own (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.slack_requests = Counter(
            "deploybot_slack_requests",
            "Requests received on /slack/events, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.commands = Counter(
            "deploybot_commands",
            "Slash commands handled, by command and outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "deploybot_slack_request_seconds",
            "Time to answer a request on /slack/events",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 3),
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
