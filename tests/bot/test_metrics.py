"""Metrics from the audit log and the Azure call observer.

The audit-derived series are fed exactly as in production: a real Store on a SQLite file,
``store.audit.subscribe(metrics.on_audit)``, and rows appended with the shapes the product
writes (``commands.jobs.base.finish``, ``commands.approving``, ``commands.creating``,
``commands.rolling_back``). The last tests drive the real bot end to end instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.local import LocalStack, local_stack
from bot.metrics import MAX_OPERATIONS, Metrics, fan_out
from bot.readiness import Readiness
from bot.slackemu.model import Change
from storage import Store, default_database_url

START = datetime(2026, 11, 23, 9, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with Store.open(default_database_url(tmp_path), clock=clock) as opened:
        yield opened


@pytest.fixture
def metrics(store: Store) -> Metrics:
    m = Metrics()
    store.audit.subscribe(m.on_audit)
    return m


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def requested(
    store: Store, deployment: str, env: str = "prod", kind: str = "deploy", required: int = 2
) -> None:
    await store.audit.append(
        "U0ALICE",
        f"{kind}.requested",
        environment=env,
        deployment_id=deployment,
        details={
            "version": "v1.2.0",
            "from_version": "v1.1.0",
            "strategy": "bluegreen",
            "reason": None,
            "approvals_required": required,
        },
    )


async def state(store: Store, deployment: str, previous: str, new: str, env: str = "prod") -> None:
    await store.audit.append(
        "deploybot",
        "deployment.state",
        environment=env,
        deployment_id=deployment,
        details={"previous": previous, "state": new},
    )


async def finished(
    store: Store,
    deployment: str,
    outcome: str,
    *,
    env: str = "prod",
    kind: str = "deploy",
    previous_state: str = "watching",
    duration_s: Any = 42.5,
    strategy: str = "bluegreen",
) -> None:
    await store.audit.append(
        "deploybot",
        "deployment.finished",
        environment=env,
        deployment_id=deployment,
        details={
            "outcome": outcome,
            "previous_state": previous_state,
            "kind": kind,
            "requested_by": "U0ALICE",
            "from_version": "v1.1.0",
            "to_version": "v1.2.0",
            "strategy": strategy,
            "live_version": "v1.2.0",
            "duration_s": duration_s,
            "error": None,
        },
    )


async def test_finished_deployments_are_counted_and_timed(store: Store, metrics: Metrics) -> None:
    await finished(store, "d-1", "succeeded", duration_s=42.5)
    await finished(store, "d-2", "succeeded", env="dev", duration_s=3)
    await finished(store, "d-3", "failed", strategy="canary", previous_state="running")
    await finished(store, "d-4", "rejected", previous_state="pending_approval", duration_s=None)
    count = "deploybot_deployments_total"
    assert value(metrics, count, environment="prod", strategy="bluegreen", outcome="succeeded") == 1
    assert value(metrics, count, environment="dev", strategy="bluegreen", outcome="succeeded") == 1
    assert value(metrics, count, environment="prod", strategy="canary", outcome="failed") == 1
    assert value(metrics, count, environment="prod", strategy="bluegreen", outcome="rejected") == 1
    took = "deploybot_deployment_duration_seconds"
    assert value(metrics, f"{took}_sum", environment="prod", outcome="succeeded") == 42.5
    assert value(metrics, f"{took}_count", environment="dev", outcome="succeeded") == 1
    assert value(metrics, f"{took}_count", environment="prod", outcome="rejected") == 0
    # One increment per deployment.finished row: the metric agrees with the audit log.
    rows = await store.audit.query(actions=["deployment.finished"])
    total = sum(
        s.value
        for f in metrics.registry.collect()
        if f.name == "deploybot_deployments"
        for s in f.samples
        if s.name == count
    )
    assert total == len(rows) == 4
    assert value(metrics, "deploybot_rollbacks_total", environment="prod", trigger="automatic") == 0


async def test_approval_wait_runs_from_the_request_to_the_approval_that_queued_the_job(
    store: Store, metrics: Metrics, clock: Clock
) -> None:
    await requested(store, "d-1")
    clock.advance(30)
    await store.audit.append(
        "U0BOB", "approval.granted", environment="prod", deployment_id="d-1", details={"count": 1}
    )
    clock.advance(60)
    await store.audit.append(
        "U0CAROL", "approval.granted", environment="prod", deployment_id="d-1", details={"count": 2}
    )
    await state(store, "d-1", "pending_approval", "queued")
    await state(store, "d-1", "queued", "running")
    wait = "deploybot_approval_wait_seconds"
    assert value(metrics, f"{wait}_count", environment="prod") == 1
    assert value(metrics, f"{wait}_sum", environment="prod") == 90.0
    # No approvals needed, or never approved: no observation.
    await requested(store, "d-2", env="dev", required=0)
    await state(store, "d-2", "queued", "running", env="dev")
    await requested(store, "d-3")
    await finished(store, "d-3", "expired", previous_state="pending_approval")
    await state(store, "d-3", "pending_approval", "queued")  # (cannot happen; still ignored)
    assert value(metrics, f"{wait}_count", environment="dev") == 0
    assert value(metrics, f"{wait}_count", environment="prod") == 1


async def test_rollback_triggers(store: Store, metrics: Metrics) -> None:
    # The job's own checks failed after the switch.
    await state(store, "d-1", "watching", "rolling_back")
    await finished(store, "d-1", "rolled_back", previous_state="rolling_back")
    # The switch back itself failed: still a rollback, the outcome says it failed.
    await finished(store, "d-2", "failed", previous_state="rolling_back")
    # A person pressed Roll back (button or /rollback) while the deployment was watched.
    await store.audit.append(
        "U0BOB",
        "rollback.requested",
        environment="prod",
        deployment_id="d-3",
        details={"version": "v1.1.0"},
    )
    await finished(store, "d-3", "rolled_back", previous_state="rolling_back")
    # /rollback prod (or the button after the watch): a deployment of kind "rollback".
    await requested(store, "d-4", kind="rollback", required=0)
    await finished(store, "d-4", "succeeded", kind="rollback", previous_state="verify")
    await finished(store, "d-5", "succeeded", env="dev")  # not a rollback
    total = "deploybot_rollbacks_total"
    assert value(metrics, total, environment="prod", trigger="automatic") == 2
    assert value(metrics, total, environment="prod", trigger="manual") == 2
    assert value(metrics, total, environment="dev", trigger="automatic") == 0
    assert value(metrics, total, environment="dev", trigger="manual") == 0


async def test_a_row_metrics_cannot_read_is_logged_and_later_rows_still_count(
    store: Store, metrics: Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    await store.audit.append("deploybot", "deployment.finished", deployment_id="d-0")  # no env
    await store.audit.append("deploybot", "deployment.finished", environment="dev")  # no id
    await store.audit.append(
        "deploybot", "deployment.finished", environment="dev", deployment_id="d-1"
    )  # no details
    with caplog.at_level(logging.ERROR, logger="bot.metrics"):
        # A duration no float can hold: the histogram refuses it (after the counts).
        await finished(store, "d-2", "rolled_back", duration_s=10**400)
    assert "metrics could not read audit row" in caplog.text
    await finished(store, "d-3", "succeeded", duration_s="soon")
    count = "deploybot_deployments_total"
    assert (
        value(metrics, count, environment="prod", strategy="bluegreen", outcome="rolled_back") == 1
    )
    assert value(metrics, count, environment="prod", strategy="bluegreen", outcome="succeeded") == 1
    assert value(metrics, count, environment="dev", strategy="unknown", outcome="unknown") == 1
    assert value(metrics, "deploybot_rollbacks_total", environment="prod", trigger="automatic") == 1
    assert (await store.audit.verify()).ok


async def test_azure_calls_by_operation_and_outcome_never_by_resource() -> None:
    metrics = Metrics()
    metrics.observe_azure_call("read site", "prod/blue", "ok", 0.05, None)
    metrics.observe_azure_call("read site", "prod/green", "ok", 0.15, None)
    metrics.observe_azure_call("swap", "staging/green", "retry", 1.0, "Conflict")
    metrics.observe_azure_call("swap", "staging/green", "error", 2.0, "SwapFailed")
    metrics.observe_azure_call("swap", "staging/green", "bogus", 0.1, None)
    total = "deploybot_azure_requests_total"
    assert value(metrics, total, operation="read site", outcome="ok") == 2
    assert value(metrics, total, operation="swap", outcome="retry") == 1
    assert value(metrics, total, operation="swap", outcome="error") == 1
    assert value(metrics, total, operation="swap", outcome="other") == 1
    seconds = "deploybot_azure_request_seconds"
    assert value(metrics, f"{seconds}_count", operation="read site") == 2
    assert value(metrics, f"{seconds}_sum", operation="read site") == pytest.approx(0.2)
    text = metrics.exposition().decode()
    assert "prod/blue" not in text and "SwapFailed" not in text


async def test_operation_names_are_bounded() -> None:
    metrics = Metrics()
    for n in range(MAX_OPERATIONS + 10):
        metrics.observe_azure_call(f"op {n}", "r", "ok", 0.01, None)
    metrics.observe_azure_call("op 0", "r", "ok", 0.01, None)
    total = "deploybot_azure_requests_total"
    assert value(metrics, total, operation="op 0", outcome="ok") == 2
    assert value(metrics, total, operation="other", outcome="ok") == 10
    families = text_string_to_metric_families(metrics.exposition().decode())
    operations = {
        s.labels["operation"]
        for f in families
        if f.name == "deploybot_azure_requests"
        for s in f.samples
        if s.name.endswith("_total")
    }
    assert len(operations) == MAX_OPERATIONS + 1


async def test_jobs_in_flight_is_read_at_scrape_time() -> None:
    metrics = Metrics()
    assert value(metrics, "deploybot_jobs_in_flight") == 0
    jobs = [1, 2]
    metrics.track_jobs(lambda: len(jobs))
    assert value(metrics, "deploybot_jobs_in_flight") == 2
    jobs.pop()
    assert "deploybot_jobs_in_flight 1.0" in metrics.exposition().decode()


async def test_fan_out_tells_every_observer_even_after_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics, readiness = Metrics(), Readiness()

    def broken(*_: Any) -> None:
        raise RuntimeError("observer bug")

    observe = fan_out(broken, metrics.observe_azure_call, readiness.observe_azure_call)
    with caplog.at_level(logging.ERROR, logger="bot.metrics"):
        observe("read site", "prod/blue", "ok", 0.01, None)
    assert "observer bug" in caplog.text
    assert value(metrics, "deploybot_azure_requests_total", operation="read site", outcome="ok")
    assert readiness.missing == ["database", "slack"]


async def test_the_exposition_parses_with_the_documented_names_and_labels(
    store: Store, metrics: Metrics
) -> None:
    await requested(store, "d-1")
    await state(store, "d-1", "pending_approval", "queued")
    await finished(store, "d-1", "rolled_back", previous_state="rolling_back")
    metrics.observe_azure_call("restart", "prod/green", "ok", 0.2, None)
    metrics.slack_ack_seconds.observe(0.003)
    families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
    labels = {
        name: {frozenset(s.labels) - {"le"} for s in f.samples if not s.name.endswith("_created")}
        for name, f in families.items()
    }
    assert labels["deploybot_deployments"] == {frozenset({"environment", "strategy", "outcome"})}
    assert labels["deploybot_deployment_duration_seconds"] == {
        frozenset({"environment", "outcome"})
    }
    assert labels["deploybot_rollbacks"] == {frozenset({"environment", "trigger"})}
    assert labels["deploybot_approval_wait_seconds"] == {frozenset({"environment"})}
    assert labels["deploybot_azure_requests"] == {frozenset({"operation", "outcome"})}
    assert labels["deploybot_azure_request_seconds"] == {frozenset({"operation"})}
    assert labels["deploybot_slack_ack_seconds"] == {frozenset()}
    assert labels["deploybot_jobs_in_flight"] == {frozenset()}
    sample_names = {s.name for f in families.values() for s in f.samples}
    assert {
        "deploybot_deployments_total",
        "deploybot_rollbacks_total",
        "deploybot_azure_requests_total",
        "deploybot_deployment_duration_seconds_bucket",
        "deploybot_approval_wait_seconds_sum",
        "deploybot_azure_request_seconds_count",
        "deploybot_slack_ack_seconds_bucket",
        "deploybot_jobs_in_flight",
    } <= sample_names
    assert all(n.startswith("deploybot_") for n in sample_names)


# -- the real bot, end to end ----------------------------------------------------------------


def quick(watch: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def overrides(mapping: dict[str, Any]) -> dict[str, Any]:
        mapping["freezes"] = []
        for env in mapping["environments"].values():
            env.pop("requires", None)  # straight to prod: the promotion order is not the point
            env["health"] = {
                **env.get("health", {}),
                "watch": watch,
                "watch_interval": "0.2s",
                "version_wait": "3s",
                "throughput": {"requests": 20, "concurrency": 5, "min_rps": 5},
            }
        return mapping

    return overrides


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[LocalStack, Metrics]]:
    async with local_stack(
        overrides=quick("30s"),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}",
        publisher_interval=0.05,
    ) as s:
        # A Metrics of the test's own, so the bot's wiring cannot double-count here.
        metrics = Metrics()
        s.services.store.audit.subscribe(metrics.on_audit)
        yield s, metrics


async def test_the_real_bot_feeds_approval_wait_deployments_and_both_rollback_triggers(
    stack: tuple[LocalStack, Metrics],
) -> None:
    s, metrics = stack
    ws, emu = s.ws, s.emu
    # prod: two approvals, then the job switches and is watched; a bad version rolls back.
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    await emu.user("U0BOB").click(card, "Approve")
    await emu.user("U0CAROL").click(ws.message(card.channel, card.ts), "Approve")
    await ws.wait_for_message("#deploys", "Watching", kinds=("edit",), timeout=20)
    s.sandbox.faults.version("v1.2.0", unhealthy=True)
    await s.services.idle()
    # dev: no approvals; the card's Roll back while watched is a manual rollback.
    mark = ws.mark()
    await emu.user("U0ALICE").command("/deploy", "dev v1.3.0", channel="#deploys")
    dev_card = await ws.wait_for_message("#deploys", "v1.3.0", since=mark)

    def dev_watched(change: Change) -> bool:  # not a late redraw of prod's card
        message = change.message
        return (
            change.kind == "edit"
            and message is not None
            and message.ts == dev_card.ts
            and ("Watching" in message.text)
        )

    watching = (await ws.wait_for(dev_watched, since=mark, timeout=20)).message
    assert watching is not None
    await emu.user("U0ALICE").click(watching, "Roll back", confirm=True)
    await s.services.idle()
    states = {
        r.environment: r.details["outcome"]
        for r in await s.services.store.audit.query(actions=["deployment.finished"])
    }
    assert states == {"prod": "rolled_back", "dev": "rolled_back"}
    assert value(metrics, "deploybot_approval_wait_seconds_count", environment="prod") == 1
    assert value(metrics, "deploybot_approval_wait_seconds_count", environment="dev") == 0
    count = "deploybot_deployments_total"
    for env in ("prod", "dev"):
        assert value(metrics, count, environment=env, strategy="bluegreen", outcome="rolled_back")
    total = "deploybot_rollbacks_total"
    assert value(metrics, total, environment="prod", trigger="automatic") == 1
    assert value(metrics, total, environment="prod", trigger="manual") == 0
    assert value(metrics, total, environment="dev", trigger="manual") == 1
    assert value(metrics, total, environment="dev", trigger="automatic") == 0
