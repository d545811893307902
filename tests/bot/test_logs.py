from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import JsonFormatter, LogSettingError, configure, level_of
from commands.jobs.base import current_deployment

ROOT = Path(__file__).resolve().parents[2]

# A real process: configure as bot.__main__ does, log outside and inside a job, and a failure.
PROGRAM = """
import logging, sys
from bot.logs import configure
from commands.jobs.base import current_deployment
configure(sys.argv[1], sys.argv[2])
log = logging.getLogger("deploybot.test")
log.info("outside %s", "a job")
current_deployment.set(("prod", "d-42"))
log.warning("inside a job")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("it broke")
log.debug("not shown at INFO")
"""


def _run(level: str, fmt: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM, level, fmt],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return result.stderr.splitlines()


def test_json_format_writes_one_object_per_line_with_the_deployment() -> None:
    lines = _run("info", "json")
    records = [json.loads(line) for line in lines]  # every line is a whole object
    assert len(records) == 3
    outside, inside, broke = records
    assert outside["level"] == "INFO"
    assert outside["logger"] == "deploybot.test"
    assert outside["message"] == "outside a job"
    assert "deployment" not in outside
    assert outside["time"].endswith("+00:00")
    assert (inside["environment"], inside["deployment"]) == ("prod", "d-42")
    assert broke["message"] == "it broke"
    assert broke["exception"].startswith("Traceback")
    assert "ZeroDivisionError" in broke["exception"]


def test_text_format_stays_the_default_one_line_per_record() -> None:
    lines = _run("INFO", "text")
    assert " INFO deploybot.test: outside a job" in lines[0]
    assert lines[1].endswith("WARNING deploybot.test: inside a job")
    assert any(line.startswith("ZeroDivisionError") for line in lines)


def test_formatter_reads_the_job_context_of_the_logging_coroutine() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "m %d", (1,), None)
    token = current_deployment.set(("staging", "d-7"))
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        current_deployment.reset(token)
    assert entry["message"] == "m 1"
    assert (entry["environment"], entry["deployment"]) == ("staging", "d-7")


def test_unknown_levels_and_formats_are_refused_before_anything_changes() -> None:
    assert level_of(" debug ") == logging.DEBUG
    with pytest.raises(LogSettingError) as level:
        configure("verbose", "json")
    assert (level.value.setting, level.value.value) == ("level", "verbose")
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in str(level.value)
    with pytest.raises(LogSettingError) as fmt:
        configure("INFO", "xml")
    assert fmt.value.setting == "format"
    assert "text, json" in str(fmt.value)
