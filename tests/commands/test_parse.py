from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.parse import environment_words, parse, split_words
from commands.requests import (
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    Request,
    Rollback,
    Status,
    Unlock,
    UsageError,
)

ENVS = environment_words({"dev": ("development",), "staging": ("stg",), "prod": ("production",)})


def ok(command: str, text: str) -> Request:
    result = parse(command, text, ENVS)
    assert not isinstance(result, UsageError), result
    return result


def refused(command: str, text: str) -> UsageError:
    result = parse(command, text, ENVS)
    assert isinstance(result, UsageError), result
    return result


def test_deploy_with_alias_strategy_and_flags() -> None:
    assert ok("/deploy", 'production v1.2.0 canary --dry-run --reason "hot fix"') == Deploy(
        environment="prod",
        version="v1.2.0",
        strategy="canary",
        dry_run=True,
        force=False,
        reason="hot fix",
        stages=None,
    )


def test_deploy_defaults_leave_strategy_to_the_environment() -> None:
    request = ok("/deploy", "stg 2026.11.21-3")
    assert isinstance(request, Deploy)
    assert request.strategy is None
    assert request.resolved_strategy("bluegreen") == "bluegreen"


def test_slack_smart_quotes_and_entities_are_understood() -> None:
    request = ok("/deploy", "prod v1.2.0 --force --reason “fix &amp; ship”")
    assert isinstance(request, Deploy)
    assert request.force
    assert request.reason == "fix & ship"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help("/deploy")),
        ("help", Help("/deploy")),
        ("status", Status(None)),
        ("status production", Status("prod")),
        ("history", History(None, 10)),
        ("history dev --limit 5", History("dev", 5)),
        ("history --limit=3", History(None, 3)),
        ("lock prod database migration", Lock("prod", "database migration")),
        ("lock prod", Lock("prod", None)),
        ("unlock prod", Unlock("prod")),
    ],
)
def test_deploy_subcommands(text: str, expected: Request) -> None:
    assert ok("/deploy", text) == expected


def test_canary_with_stages() -> None:
    request = ok("/canary", "prod v1.3.0 --stages 5,25,50,100")
    assert isinstance(request, Deploy)
    assert request.strategy == "canary"
    assert request.stages == (5, 25, 50, 100)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("prod", Rollback("prod", None, None)),
        ("prod v1.1.0", Rollback("prod", "v1.1.0", None)),
        ('production --reason "errors up"', Rollback("prod", None, "errors up")),
    ],
)
def test_rollback(text: str, expected: Rollback) -> None:
    assert ok("/rollback", text) == expected


@pytest.mark.parametrize(
    ("command", "text", "problem"),
    [
        ("/deploy", "prd v1.2.0", "Did you mean `prod`?"),
        ("/deploy", "prod", "Say which version"),
        ("/deploy", "prod <!channel>", "is not a version"),
        ("/deploy", "prod v1.2.0 purple", "is not a strategy"),
        ("/deploy", "prod v1.2.0 --yolo", "Unknown option `--yolo`"),
        ("/deploy", 'prod v1.2.0 --reason "unclosed', "quote is not closed"),
        ("/deploy", "prod v1.2.0 --reason", "needs a value"),
        ("/deploy", "history --limit 0", "--limit"),
        ("/deploy", "unlock", "Say which one environment"),
        ("/canary", "prod v1 --stages 50,25", "must rise strictly"),
        ("/canary", "prod v1 --stages five", "percentages"),
        ("/rollback", "", "which environment"),
        ("/rollback", "prod v1 v2", "Unexpected"),
        ("/ship", "prod v1", "not a deploybot command"),
    ],
)
def test_refusals_say_what_was_wrong(command: str, text: str, problem: str) -> None:
    error = refused(command, text)
    assert problem in error.problem
    assert error.usage


def test_long_reason_is_refused() -> None:
    assert "too long" in refused("/deploy", f'prod v1 --reason "{"x" * 400}"').problem


@given(
    command=st.sampled_from(["/deploy", "/canary", "/rollback", "/other"]),
    text=st.text(max_size=200),
)
def test_parser_only_returns_a_request_or_a_usage_error(command: str, text: str) -> None:
    result = parse(command, text, ENVS)
    assert isinstance(
        result, Help | Status | History | Lock | Unlock | Deploy | Rollback | UsageError
    )


WORDS = st.sampled_from(
    [
        "prod",
        "stg",
        "v1.2.0",
        "canary",
        "--dry-run",
        "--force",
        "--reason",
        "--limit",
        "status",
        "history",
        "lock",
        "unlock",
        '"',
        "<!channel>",
        "--stages",
        "5,25",
        "help",
        "=",
        "bluegreen",
    ]
)


@given(
    command=st.sampled_from(["/deploy", "/canary", "/rollback"]), words=st.lists(WORDS, max_size=8)
)
def test_parser_on_command_like_input(command: str, words: list[str]) -> None:
    result = parse(command, " ".join(words), ENVS)
    if isinstance(result, Deploy | Rollback) and result.version is not None:
        assert "<" not in result.version


def test_cancel_takes_an_environment_or_a_deployment_id() -> None:
    assert parse("/deploy", "cancel production", ENVS) == Cancel("prod", None)
    assert parse("/deploy", "cancel d-0123456789", ENVS) == Cancel(None, "d-0123456789")
    missing = parse("/deploy", "cancel", ENVS)
    assert isinstance(missing, UsageError) and "Say which request" in missing.problem
    unknown = parse("/deploy", "cancel nowhere", ENVS)
    assert isinstance(unknown, UsageError) and "not an environment" in unknown.problem


@given(st.text(alphabet=st.sampled_from(list("ab 1.-\t\r\n\xa0\x0b\u2003#;|$\"'\\<>é"))))
def test_words_split_as_shlex_splits_them_with_or_without_quotes(text: str) -> None:
    # Text without quotes or backslashes skips shlex: the words must be the same either way.
    try:
        expected: list[str] | None = shlex.split(text.strip())
    except ValueError:
        expected = None
    try:
        words: list[str] | None = split_words(text)
    except ValueError:
        words = None
    assert words == expected
