"""YAML text → ``Config``, or a ``ConfigError`` naming the file, the key and what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from commands.config.model import Config
from commands.config.problems import ConfigError, Problem
from commands.config.reference import load_yaml, reference_mapping, reference_text

__all__ = [
    "ConfigError",
    "Problem",
    "config_from_file",
    "config_from_mapping",
    "config_from_text",
    "load_yaml",
    "reference_mapping",
    "reference_text",
]


def _key_path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "function-after" in item or "function-before" in item or item.startswith("tagged"):
            continue
        else:
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(_key_path(tuple(item["loc"])), message))
    return problems


def config_from_mapping(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, Mapping):
        raise ConfigError(source, [Problem("", "expected a mapping at the top level")])
    try:
        return Config.model_validate(dict(data))
    except ValidationError as error:
        raise ConfigError(source, _problems(error)) from None


def config_from_text(text: str, source: str = "<config>") -> Config:
    return config_from_mapping(load_yaml(text, source), source)


def config_from_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        problem = Problem("", f"cannot read the file ({error.strerror})")
        raise ConfigError(str(path), [problem]) from None
    return config_from_text(text, str(path))
