"""Typed deploybot configuration.

The pydantic model (``Config``, ``Environment``) and the validating loaders are imported on
first use: modes that only need ``ConfigError`` or the reference mapping (the sandbox) never
pay for pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from commands.config.problems import ConfigError, Problem
from commands.config.reference import reference_mapping, reference_text

if TYPE_CHECKING:
    from commands.config.load import config_from_file, config_from_mapping, config_from_text
    from commands.config.model import Config, Environment

_LAZY = {
    "Config": "commands.config.model",
    "Environment": "commands.config.model",
    "config_from_file": "commands.config.load",
    "config_from_mapping": "commands.config.load",
    "config_from_text": "commands.config.load",
}

__all__ = [
    "Config",
    "ConfigError",
    "Environment",
    "Problem",
    "config_from_file",
    "config_from_mapping",
    "config_from_text",
    "reference_mapping",
    "reference_text",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
