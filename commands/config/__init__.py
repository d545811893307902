"""Typed deploybot configuration."""

from commands.config.load import (
    ConfigError,
    Problem,
    config_from_file,
    config_from_mapping,
    config_from_text,
    reference_mapping,
    reference_text,
)
from commands.config.model import Config, Environment

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
