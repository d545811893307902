from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.config import config_from_text, reference_text
from commands.policy import (
    Approval,
    active_freeze,
    approvals_count,
    may_approve,
    may_deploy,
    may_operate,
    members,
)

CONFIG = config_from_text(reference_text())
PROD = CONFIG.environments["prod"]
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def test_roles_expand_to_users() -> None:
    assert members(CONFIG, ("deployers", "leads"), {}) == {"U0ALICE", "U0BOB", "U0CAROL"}


def test_user_groups_expand_through_the_directory() -> None:
    assert members(CONFIG, ("S0SRE",), {"S0SRE": frozenset({"U0ERIN"})}) == {"U0ERIN"}


def test_only_deployers_deploy_and_the_refusal_names_who_can() -> None:
    assert may_deploy(CONFIG, PROD, "U0ALICE", {}).allowed
    refusal = may_deploy(CONFIG, PROD, "U0DAVE", {})
    assert not refusal.allowed
    assert refusal.ask == ("U0ALICE", "U0BOB", "U0CAROL")
    assert not may_operate(CONFIG, PROD, "U0DAVE", {}).allowed


def test_approvals_need_an_approver_other_than_the_requester() -> None:
    assert may_approve(CONFIG, PROD, "U0BOB", "U0ALICE", [], {}).allowed
    self_approval = may_approve(CONFIG, PROD, "U0BOB", "U0BOB", [], {})
    assert not self_approval.allowed
    assert self_approval.ask == ("U0CAROL",)
    assert "can't approve" in may_approve(CONFIG, PROD, "U0DAVE", "U0ALICE", [], {}).reason


def test_an_approver_counts_once() -> None:
    previous = [Approval("U0BOB", "approve", NOW)]
    assert not may_approve(CONFIG, PROD, "U0BOB", "U0ALICE", previous, {}).allowed
    assert approvals_count([*previous, Approval("U0CAROL", "reject", NOW)]) == 1


@pytest.mark.parametrize(
    ("when", "env", "frozen"),
    [
        (datetime(2026, 11, 18, 12, 0, tzinfo=UTC), "prod", None),
        (datetime(2026, 11, 21, 12, 0, tzinfo=UTC), "prod", "weekend"),  # Saturday
        (datetime(2026, 11, 21, 12, 0, tzinfo=UTC), "staging", None),
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), "prod", "weekend"),  # Sunday night
        (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), "prod", None),  # Monday 00:00 London
        (datetime(2026, 12, 28, 10, 0, tzinfo=UTC), "staging", "year-end"),
        (datetime(2027, 1, 2, 9, 0, tzinfo=UTC), "staging", None),
    ],
)
def test_freeze_windows(when: datetime, env: str, frozen: str | None) -> None:
    freeze = active_freeze(CONFIG, env, when)
    assert (freeze.name if freeze else None) == frozen


def test_weekly_window_past_midnight() -> None:
    config = config_from_text(
        reference_text().replace(
            "weekly: {days: [sat, sun]}", "weekly: {days: [fri], start: '18:00', end: '06:00'}"
        )
    )
    assert active_freeze(config, "prod", datetime(2026, 11, 21, 5, 0, tzinfo=UTC))
    assert not active_freeze(config, "prod", datetime(2026, 11, 21, 7, 0, tzinfo=UTC))
    assert not active_freeze(config, "prod", datetime(2026, 11, 20, 17, 0, tzinfo=UTC))
