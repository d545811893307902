"""YAML text → plain data, and the built-in reference configuration as text or a mapping.

No pydantic here: the sandbox builds its ``deploybot.yml`` from the reference mapping without
ever validating a ``Config``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from commands.config.problems import ConfigError, Problem

# libyaml's loader reads the same data as PyYAML's own, ~13x faster (9.5 against 0.7 ms for
# reference.yml), but says less about a mistake ("found character that cannot start any
# token", without the tab it found): a text it refuses is read again by PyYAML's, for its words.
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str, source: str = "<config>") -> Any:
    try:
        return yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [Problem(where, f"not valid YAML ({problem})")]) from None


def reference_text() -> str:
    """The built-in configuration of the reference system (also ``deploybot.example.yml``)."""
    return resources.files("commands.config").joinpath("reference.yml").read_text("utf-8")


def reference_mapping() -> dict[str, Any]:
    data = load_yaml(reference_text(), "reference.yml")
    assert isinstance(data, dict)
    return data
