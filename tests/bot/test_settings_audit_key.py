"""DEPLOYBOT_AUDIT_KEY and DEPLOYBOT_AUDIT_KEY_PREVIOUS become the audit log's keyring."""

from __future__ import annotations

import pytest

from bot.settings import Runtime
from commands.config import ConfigError
from storage import AuditKey

KEY, OLD = "a" * 32, "b" * 32


def test_no_key_means_no_keyring() -> None:
    assert Runtime.from_environ({}).audit_keyring() is None


def test_the_key_and_the_previous_one() -> None:
    runtime = Runtime.from_environ(
        {"DEPLOYBOT_AUDIT_KEY": KEY, "DEPLOYBOT_AUDIT_KEY_PREVIOUS": OLD}
    )
    keyring = runtime.audit_keyring()
    assert keyring is not None
    assert keyring.current.key_id == AuditKey.from_text(KEY).key_id
    assert keyring.find(AuditKey.from_text(OLD).key_id) is not None
    assert KEY not in repr(runtime)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"DEPLOYBOT_AUDIT_KEY": "short"}, "DEPLOYBOT_AUDIT_KEY: an audit key needs at least"),
        (
            {"DEPLOYBOT_AUDIT_KEY": KEY, "DEPLOYBOT_AUDIT_KEY_PREVIOUS": "x"},
            "DEPLOYBOT_AUDIT_KEY_PREVIOUS: an audit key needs",
        ),
        ({"DEPLOYBOT_AUDIT_KEY_PREVIOUS": OLD}, "DEPLOYBOT_AUDIT_KEY: must be set when"),
    ],
)
def test_a_bad_key_fails_with_the_variables_name(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Runtime.from_environ(env).audit_keyring()
    assert str(caught.value.problems[0]).startswith(problem)
