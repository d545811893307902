"""Slash-command text → a request, or a usage error. Pure: it never raises on user input."""

from __future__ import annotations

import difflib
import html
import re
import shlex
from collections.abc import Mapping

from commands.requests import (
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    Request,
    Rollback,
    Stats,
    Status,
    Strategy,
    Unlock,
    UsageError,
)

DEPLOYMENT_ID = re.compile(r"^d-[0-9a-f]{10}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
#: What shlex (POSIX mode, whitespace split) treats specially, and what it splits on.
_SHELL_SYNTAX = re.compile(r"[\"'\\]")
_WHITESPACE = re.compile(r"[ \t\r\n]+")
MAX_REASON = 300
MAX_HISTORY = 100

DEPLOY_USAGE = (
    '/deploy <env> <version> [bluegreen|canary] [--dry-run] [--force] [--reason "text"]\n'
    "/deploy status [env]\n"
    "/deploy history [env] [--limit N]\n"
    "/deploy lock <env> [reason]\n"
    "/deploy unlock <env>\n"
    "/deploy cancel <env|id>\n"
    "/deploy stats [env] [--since 30d]\n"
    "/deploy help"
)
CANARY_USAGE = (
    '/canary <env> <version> [--stages 5,25,50,100] [--dry-run] [--force] [--reason "text"]'
)
ROLLBACK_USAGE = '/rollback <env> [version] [--reason "text"]'
USAGE = {"/deploy": DEPLOY_USAGE, "/canary": CANARY_USAGE, "/rollback": ROLLBACK_USAGE}
STRATEGIES: dict[str, Strategy] = {
    "bluegreen": "bluegreen",
    "blue-green": "bluegreen",
    "canary": "canary",
}
SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


class _Refusal(Exception):
    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def parse(command: str, text: str, environments: Mapping[str, str]) -> Request | UsageError:
    """Parse ``text`` typed after ``command``.

    ``environments`` maps every name and alias (lower case) to the canonical environment name.
    """
    usage = USAGE.get(command)
    if usage is None:
        return UsageError(f"`{command}` is not a deploybot command.", DEPLOY_USAGE)
    try:
        words = split_words(text)
    except ValueError:
        return UsageError("A quote is not closed.", usage)
    try:
        if command == "/canary":
            return _deploy(words, environments, canary=True)
        if command == "/rollback":
            return _rollback(words, environments)
        return _deploy_command(words, environments)
    except _Refusal as refusal:
        return UsageError(refusal.problem, usage)


def split_words(text: str) -> list[str]:
    """The words of ``text`` as a POSIX shell splits them (quotes group, backslash escapes).
    Raises ValueError for a quote left open."""
    # Slack escapes &, < and > in command text; undo it so we see what the user typed.
    plain = html.unescape(text).translate(SMART_QUOTES).strip()
    if not _SHELL_SYNTAX.search(plain):  # shlex walks each character in Python: 10 µs a word
        return _WHITESPACE.split(plain) if plain else []
    return shlex.split(plain)


def _deploy_command(words: list[str], envs: Mapping[str, str]) -> Request:
    if not words or words[0].lower() == "help":
        return Help("/deploy")
    head, rest = words[0].lower(), words[1:]
    if head == "status":
        positional, _ = _options(rest, flags=(), valued=())
        return Status(_optional_env(positional, envs, "status"))
    if head == "history":
        positional, opts = _options(rest, flags=(), valued=("--limit",))
        return History(_optional_env(positional, envs, "history"), _limit(opts.get("--limit")))
    if head == "stats":
        positional, opts = _options(rest, flags=(), valued=("--since",))
        return Stats(_optional_env(positional, envs, "stats"), _days(opts.get("--since")))
    if head == "lock":
        if not rest:
            raise _Refusal("Say which environment to lock.")
        reason = " ".join(rest[1:]).strip() or None
        return Lock(_environment(rest[0], envs), _reason(reason))
    if head == "unlock":
        positional, _ = _options(rest, flags=(), valued=())
        if len(positional) != 1:
            raise _Refusal("Say which one environment to unlock.")
        return Unlock(_environment(positional[0], envs))
    if head == "cancel":
        positional, _ = _options(rest, flags=(), valued=())
        if len(positional) != 1:
            raise _Refusal("Say which request to cancel: an environment or a deployment id.")
        if DEPLOYMENT_ID.match(positional[0].lower()):
            return Cancel(None, positional[0].lower())
        return Cancel(_environment(positional[0], envs), None)
    return _deploy(words, envs, canary=False)


def _deploy(words: list[str], envs: Mapping[str, str], *, canary: bool) -> Deploy:
    valued = ("--reason", "--stages") if canary else ("--reason",)
    positional, opts = _options(words, flags=("--dry-run", "--force"), valued=valued)
    if not positional:
        raise _Refusal("Say which environment and version to deploy.")
    environment = _environment(positional[0], envs)
    if len(positional) < 2:
        raise _Refusal(f"Say which version to deploy to {environment}, e.g. v1.2.0.")
    version = _version(positional[1])
    strategy: Strategy | None = "canary" if canary else None
    extra = positional[2:]
    if extra and not canary:
        word = extra.pop(0).lower()
        if word not in STRATEGIES:
            raise _Refusal(f"`{word}` is not a strategy: use bluegreen or canary.")
        strategy = STRATEGIES[word]
    if extra:
        raise _Refusal(f"Unexpected `{extra[0]}`.")
    stages = _stages(opts.get("--stages")) if "--stages" in opts else None
    return Deploy(
        environment=environment,
        version=version,
        strategy=strategy,
        dry_run="--dry-run" in opts,
        force="--force" in opts,
        reason=_reason(opts.get("--reason")),
        stages=stages,
    )


def _rollback(words: list[str], envs: Mapping[str, str]) -> Rollback:
    positional, opts = _options(words, flags=(), valued=("--reason",))
    if not positional:
        raise _Refusal("Say which environment to roll back.")
    if len(positional) > 2:
        raise _Refusal(f"Unexpected `{positional[2]}`.")
    environment = _environment(positional[0], envs)
    version = _version(positional[1]) if len(positional) == 2 else None
    return Rollback(environment, version, _reason(opts.get("--reason")))


def _options(
    words: list[str], *, flags: tuple[str, ...], valued: tuple[str, ...]
) -> tuple[list[str], dict[str, str]]:
    positional: list[str] = []
    opts: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--"):
            positional.append(word)
            continue
        name, has_value, value = word.partition("=")
        name = name.lower()
        if name in flags and not has_value:
            opts[name] = ""
        elif name in valued:
            if not has_value:
                if index >= len(words):
                    raise _Refusal(f"`{name}` needs a value.")
                value = words[index]
                index += 1
            opts[name] = value
        else:
            known = ", ".join(f"`{f}`" for f in (*flags, *valued)) or "none here"
            raise _Refusal(f"Unknown option `{name}` (options: {known}).")
    return positional, opts


def _environment(word: str, envs: Mapping[str, str]) -> str:
    key = word.lower()
    if key in envs:
        return envs[key]
    names = sorted(set(envs.values()))
    close = difflib.get_close_matches(key, list(envs), n=1)
    hint = f" Did you mean `{envs[close[0]]}`?" if close else ""
    raise _Refusal(f"`{word}` is not an environment.{hint} Known: {', '.join(names)}.")


def _optional_env(positional: list[str], envs: Mapping[str, str], verb: str) -> str | None:
    if len(positional) > 1:
        raise _Refusal(f"`{verb}` takes at most one environment.")
    return _environment(positional[0], envs) if positional else None


def _version(word: str) -> str:
    if not VERSION.match(word):
        raise _Refusal(
            f"`{word}` is not a version: use letters, digits, `.`, `-`, `_` or `+` "
            "(e.g. v1.2.0, 2026.11.21-3 or a git sha)."
        )
    return word


def _reason(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    reason = " ".join(text.split())
    if len(reason) > MAX_REASON:
        raise _Refusal(f"The reason is too long ({len(reason)} characters; at most {MAX_REASON}).")
    return reason


def _days(text: str | None) -> int:
    if text is None:
        return 30
    match = re.fullmatch(r"(\d{1,3})d?", text.strip().lower())
    if not match or not 1 <= int(match[1]) <= 365:
        raise _Refusal("`--since` takes a number of days from 1 to 365, like 30d.")
    return int(match[1])


def _limit(text: str | None) -> int:
    if text is None:
        return 10
    if not text.isdigit() or not 1 <= int(text) <= MAX_HISTORY:
        raise _Refusal(f"`--limit` takes a whole number from 1 to {MAX_HISTORY}.")
    return int(text)


def _stages(text: str | None) -> tuple[int, ...]:
    parts = (text or "").split(",")
    if not all(p.strip().isdigit() for p in parts):
        raise _Refusal("`--stages` takes percentages like 5,25,50,100.")
    stages = tuple(int(p) for p in parts)
    if not all(1 <= s <= 100 for s in stages) or list(stages) != sorted(set(stages)):
        raise _Refusal("`--stages` must rise strictly, each from 1 to 100, e.g. 5,25,50,100.")
    return stages


def environment_words(names_and_aliases: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Build the lookup ``parse`` takes from {name: aliases}."""
    words: dict[str, str] = {}
    for name, aliases in names_and_aliases.items():
        for word in (name, *aliases):
            words[word.lower()] = name
    return words
