"""The one step list: the plan, the labels, and how a finished checklist is settled."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from commands.config.model import Hook, Hooks
from commands.jobs.context import JobContext, traffic_to
from commands.jobs.steps import PLAN_TEXT, Step, plan_steps, plan_text, settle, step_label
from storage.deployment_model import Deployment
from storage.deployment_model import Step as StoredStep

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOOK = Hook(url="https://hooks.example/x")


def stored(**changes: Any) -> Deployment:
    base = Deployment(
        id="dep-1",
        kind="deploy",
        environment="prod",
        version="v1.2.0",
        from_version="v1.1.0",
        strategy="bluegreen",
        requested_by="U0ALICE",
        reason=None,
        state="running",
        current_step=None,
        steps=(),
        flags={},
        context={},
        error=None,
        idempotency_key=None,
        card_channel=None,
        card_ts=None,
        approvals_required=0,
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW,
        finished_at=None,
        expires_at=None,
    )
    return dataclasses.replace(base, **changes)


def test_stored_names_are_the_enum_values() -> None:
    assert [s.value for s in Step] == [
        "precheck",
        "deploy",
        "restart",
        "wait_version",
        "health_gate",
        "pre_switch_hook",
        "switch",
        "verify",
        "post_switch_hook",
        "watch",
        "canary",
        "promote",
        "rollback",
    ]
    assert Step.of("watch") is Step.WATCH
    assert Step.of("stage 5%") is None
    assert set(PLAN_TEXT) == set(Step)


def test_the_plan_follows_the_kind_and_the_hooks() -> None:
    assert plan_steps("deploy", Hooks()) == [
        Step.PRECHECK,
        Step.DEPLOY,
        Step.RESTART,
        Step.WAIT_VERSION,
        Step.HEALTH_GATE,
        Step.SWITCH,
        Step.VERIFY,
        Step.WATCH,
    ]
    hooked = plan_steps("deploy", Hooks(pre_switch=HOOK, post_switch=HOOK))
    assert hooked.index(Step.PRE_SWITCH_HOOK) == hooked.index(Step.SWITCH) - 1
    assert hooked[-2:] == [Step.POST_SWITCH_HOOK, Step.WATCH]
    rollback = plan_steps("rollback", Hooks(pre_switch=HOOK, post_switch=HOOK))
    assert rollback[-2:] == [Step.SWITCH, Step.VERIFY]
    assert Step.PRE_SWITCH_HOOK in rollback
    assert plan_text("watch") == "watch production (health and error rate)"
    assert plan_text("stage_5") == "Stage 5"


def test_labels_name_the_targets_once_they_are_known() -> None:
    known = stored(
        context=JobContext(target="green", live="blue", previous_version="v1.1.0").to_json()
    )
    assert step_label(Step.DEPLOY, known) == "Put v1.2.0 on green"
    assert step_label(Step.WAIT_VERSION, known) == "Wait for green to report v1.2.0"
    assert step_label(Step.SWITCH, known) == "Switch traffic blue → green"
    assert step_label(Step.ROLLBACK, known) == "Roll back to v1.1.0"
    assert step_label("stage 5%", known) == "Stage 5%"


@pytest.mark.parametrize("kind", ["deploy", "rollback"])
def test_labels_before_the_targets_are_known_have_no_placeholders(kind: str) -> None:
    version = "v1.1.0" if kind == "rollback" else "v1.2.0"
    d = stored(kind=kind, version=version, context={})
    labels = [step_label(step, d) for step in Step]
    assert not [label for label in labels if "the idle target" in label or "live target" in label]
    switch = step_label(Step.SWITCH, d)
    assert switch == (
        "Switch traffic back to v1.1.0" if kind == "rollback" else "Switch traffic to v1.2.0"
    )
    assert step_label(Step.ROLLBACK, d) == "Roll back"


def steps(*pairs: tuple[str, str]) -> tuple[StoredStep, ...]:
    started = NOW - timedelta(seconds=10)
    return tuple(
        StoredStep(name, status, None, None if status == "pending" else started)
        for name, status in pairs
    )


def test_settling_a_rollback_fails_the_running_step_and_skips_the_rest() -> None:
    checklist = steps(("switch", "done"), ("post_switch_hook", "running"), ("watch", "pending"))
    settled = settle(checklist, "rolled_back", "post_switch hook answered 500", NOW)
    assert [(s.name, s.status, s.detail) for s in settled] == [
        ("switch", "done", None),
        ("post_switch_hook", "failed", "post_switch hook answered 500"),
        ("watch", "skipped", "not run: rolled back"),
    ]
    assert settled[1].finished_at == NOW


def test_settling_a_failure_says_where_it_stopped() -> None:
    checklist = steps(("precheck", "done"), ("health_gate", "failed"), ("switch", "pending"))
    settled = settle(checklist, "failed", "green: 8/9 checks passed", NOW)
    assert settled[2].status == "skipped"
    assert settled[2].detail == "not run: stopped at health checks"
    crashed = settle(steps(("deploy", "running"), ("restart", "pending")), "failed", None, NOW)
    assert [(s.status, s.detail) for s in crashed] == [
        ("failed", "interrupted: stopped at deploy"),
        ("skipped", "not run: stopped at deploy"),
    ]


@pytest.mark.parametrize(
    ("outcome", "why"),
    [("rejected", "rejected"), ("expired", "request expired"), ("cancelled", "cancelled")],
)
def test_settling_a_deployment_that_never_ran(outcome: str, why: str) -> None:
    settled = settle(steps(("precheck", "pending"), ("watch", "pending")), outcome, None, NOW)
    assert {(s.status, s.detail) for s in settled} == {("skipped", f"not run: {why}")}


def test_a_finished_checklist_is_left_as_it_is() -> None:
    checklist = steps(("precheck", "done"), ("deploy", "skipped"))
    assert settle(checklist, "succeeded", None, NOW) == checklist


def test_the_context_reads_old_rows_and_keeps_what_it_does_not_know() -> None:
    old = {
        "target": "green",
        "live": "blue",
        "previous_version": "v1.1.0",
        "method": "deploy",
        "traffic": {"blue": 100.0},
        "switched": True,
        "watch_until": "2026-11-21T12:30:00+00:00",
        "rollback_note": "flip back to blue, 0.02s",
        "someone_elses": [1, 2],
    }
    ctx = JobContext.from_json(old)
    assert (ctx.target, ctx.live, ctx.previous_version, ctx.method) == (
        "green",
        "blue",
        "v1.1.0",
        "deploy",
    )
    assert ctx.traffic == (("blue", 100.0),)
    assert ctx.switched and not ctx.switching_back
    assert ctx.watch_until == NOW + timedelta(minutes=30)
    assert ctx.extra == {"someone_elses": [1, 2]}
    again = JobContext.from_json(ctx.to_json())
    assert again == ctx


def test_missing_or_malformed_keys_read_as_unknown() -> None:
    assert JobContext.from_json({}) == JobContext()
    bad = JobContext.from_json(
        {"target": 3, "method": "teleport", "watch_until": "soon", "switched": "yes"}
    )
    assert (bad.target, bad.method, bad.watch_until, bad.switched) == (None, None, None, False)
    assert JobContext().to_json() == {}


def test_typed_changes_make_a_new_context() -> None:
    ctx = JobContext(target="green", live="blue")
    moved = ctx.updated({"switched": True, "traffic": traffic_to("green"), "method": "flip back"})
    assert moved.switching_back and moved.switched
    assert moved.to_json()["traffic"] == {"green": 100.0}
    assert ctx.switched is False
