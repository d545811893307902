"""DEPLOYBOT_JOB_LEASE: how long a replica's job lease lasts unrenewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import Runtime
from commands.config import ConfigError


def test_the_default_is_ten_seconds() -> None:
    assert Runtime.from_environ({}).job_lease_time() == timedelta(seconds=10)


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("1m", 60), ("2.5", 2.5)])
def test_a_duration_sets_it(text: str, seconds: float) -> None:
    lease = Runtime.from_environ({"DEPLOYBOT_JOB_LEASE": text}).job_lease_time()
    assert lease == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("banana", "DEPLOYBOT_JOB_LEASE: expected a duration like 30s"),
        ("-5s", "DEPLOYBOT_JOB_LEASE: expected a duration like 30s"),
        ("200ms", "DEPLOYBOT_JOB_LEASE: must be at least 1s"),
    ],
)
def test_a_bad_value_fails_with_the_variables_name(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Runtime.from_environ({"DEPLOYBOT_JOB_LEASE": text}).job_lease_time()
    assert str(caught.value.problems[0]).startswith(problem)
