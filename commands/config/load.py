"""YAML text → ``Config``, or a ``ConfigError`` naming the file, the key and what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from commands.config.model import Config


@dataclass(frozen=True)
class Problem:
    key: str
    expected: str

    def __str__(self) -> str:
        return f"{self.key}: {self.expected}" if self.key else self.expected


class ConfigError(Exception):
    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: invalid configuration\n{lines}")


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


def load_yaml(text: str, source: str = "<config>") -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [Problem(where, f"not valid YAML ({problem})")]) from None


def config_from_text(text: str, source: str = "<config>") -> Config:
    return config_from_mapping(load_yaml(text, source), source)


def config_from_file(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        problem = Problem("", f"cannot read the file ({error.strerror})")
        raise ConfigError(str(path), [problem]) from None
    return config_from_text(text, str(path))


def reference_text() -> str:
    """The built-in configuration of the reference system (also ``deploybot.example.yml``)."""
    return resources.files("commands.config").joinpath("reference.yml").read_text("utf-8")


def reference_mapping() -> dict[str, Any]:
    data = load_yaml(reference_text(), "reference.yml")
    assert isinstance(data, dict)
    return data
