"""Payloads copied from shared/payloads (see tests/fixtures/README.md) and a reference config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from commands.config import Config, config_from_text, reference_text

ALERTS = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"


def payload(name: str) -> Any:
    return json.loads((ALERTS / name).read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (ALERTS / name).read_bytes()


@pytest.fixture
def config() -> Config:
    return config_from_text(reference_text(), "reference.yml")
