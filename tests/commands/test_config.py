from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from commands.config import (
    ConfigError,
    config_from_file,
    config_from_mapping,
    config_from_text,
    reference_mapping,
    reference_text,
)
from commands.config.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_is_the_built_in_reference() -> None:
    assert (ROOT / "deploybot.example.yml").read_text() == reference_text()


def test_reference_system() -> None:
    config = config_from_file(ROOT / "deploybot.example.yml")
    assert set(config.environments) == {"dev", "staging", "prod"}
    prod = config.environments["prod"]
    assert config.environment("production") is prod
    assert prod.topology == "traffic-manager"
    assert prod.approvals.required == 2
    assert config.members(prod.approvals.approvers) == {"U0BOB", "U0CAROL"}
    assert prod.azure.apps["canary"] == "virtualqueue-production-canary"
    assert prod.artifact.package_url_for("v1.2.0") == (
        "https://artifacts.virtualqueue.example/virtualqueue/v1.2.0.zip"
    )
    assert config.environments["staging"].target_names == ("production", "green")
    assert prod.requires == ("staging",)  # the promotion order
    assert config.environments["staging"].requires == ()


def test_settings_are_frozen() -> None:
    config = config_from_text(reference_text())
    with pytest.raises(ValueError, match="frozen"):
        config.environments["prod"].approvals.required = 0  # type: ignore[misc]


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_from_text(text, "team.yml")
    assert str(caught.value).startswith("team.yml: invalid configuration")
    return [str(p) for p in caught.value.problems]


def broken(old: str, new: str) -> list[str]:
    text = reference_text()
    assert old in text
    return problems(text.replace(old, new, 1))


def test_each_problem_names_the_key_and_what_was_expected() -> None:
    assert broken("required: 2 ", "required: two ") == [
        "environments.prod.approvals.required: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]
    assert broken("expires_after: 30m", "expires_after: soon") == [
        "environments.staging.approvals.expires_after: expected a duration like 30s, 10m or "
        "1h30m, got 'soon'"
    ]
    assert broken("    topology: slots  ", "    topology: lambda  ")[0].startswith(
        "environments.dev.topology: Input should be 'slots' or 'traffic-manager'"
    )
    assert broken("      slot: green\n", "      slott: green\n") == [
        "environments.dev.azure.slott: unknown key (check the spelling)",
    ]


def test_cross_references_are_checked() -> None:
    assert any(
        "'admins' is neither a role" in p
        for p in broken("approvers: [leads]", "approvers: [admins]")
    )
    assert any(
        "unknown environment 'qa'" in p
        for p in broken("environments: [prod]", "environments: [qa]")
    )
    assert any("'prod' already names" in p for p in broken("aliases: [stg]", "aliases: [prod]"))
    assert any(
        "environments.prod.requires: 'qa' is not another environment" in p
        for p in broken("requires: [staging]", "requires: [qa]")
    )
    assert any(
        "environments.prod.requires: 'prod' is not another environment" in p
        for p in broken("requires: [staging]", "requires: [prod]")
    )
    assert any(
        "unknown time zone" in p for p in broken("timezone: Europe/London", "timezone: Mars/Base")
    )
    assert any("{version}" in p for p in broken("/{version}.zip", "/latest.zip"))


def test_yaml_errors_give_a_line() -> None:
    assert problems("environments: [\n")[0].startswith("line 2, column 1: not valid YAML")
    assert problems("- just a list\n") == ["expected a mapping at the top level"]
    # Read by libyaml first; what it refuses is said in PyYAML's words, which name the tab.
    assert problems("environments:\n\tprod: {}\n") == [
        "line 2, column 1: not valid YAML (found character '\\t' that cannot start any token)"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        config_from_file(tmp_path / "missing.yml")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h30m", 5400), (45, 45), ("250ms", 0.25), ("2d", 172800)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5", "5x", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_duration_round_trip() -> None:
    assert format_duration(timedelta(minutes=90, seconds=5)) == "1h30m5s"


def test_audit_checkpoints_are_off_unless_a_channel_is_named() -> None:
    config = config_from_text(reference_text())
    assert config.audit.checkpoint_channel is None
    assert config.audit.checkpoint_interval == timedelta(minutes=10)
    named = reference_text().replace(
        '  # checkpoint_channel: "#deploy-audit"', '  checkpoint_channel: "#deploy-audit"'
    )
    assert config_from_text(named).audit.checkpoint_channel == "#deploy-audit"
    assert broken("checkpoint_interval: 10m", "checkpoint_interval: 500ms") == [
        "audit.checkpoint_interval: checkpoint_interval must be at least 1s"
    ]


def test_azure_request_waits() -> None:
    config = config_from_text(reference_text())
    waits = config.azure_requests
    assert (waits.timeout, waits.attempt_timeout) == (timedelta(seconds=30), timedelta(seconds=10))
    mapping = reference_mapping()
    mapping["azure_requests"] = {"timeout": "30s", "attempt_timeout": "45s"}
    with pytest.raises(ConfigError, match=r"azure_requests.*at most timeout"):
        config_from_mapping(mapping)
