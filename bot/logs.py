"""Process-wide logging: plain text for people, or one JSON object per line for collectors."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_JOBS_MODULE = "commands.jobs.base"


class LogSettingError(ValueError):
    """A level or format that is not one of ``allowed``; ``setting`` says which."""

    def __init__(self, setting: Literal["level", "format"], value: str, allowed: tuple[str, ...]):
        super().__init__(f"{value!r} is not a log {setting}; use one of {', '.join(allowed)}")
        self.setting = setting
        self.value = value
        self.allowed = allowed


class JsonFormatter(logging.Formatter):
    """One compact JSON object per record; the deployment a job logs for, when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        where = _current_deployment()
        if where is not None:
            entry["environment"], entry["deployment"] = where
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_deployment() -> tuple[str, str] | None:
    # Importing the jobs costs a second of start-up; if they are not loaded, no job is running.
    jobs = sys.modules.get(_JOBS_MODULE)
    if jobs is None:
        return None
    where: tuple[str, str] | None = jobs.current_deployment.get()
    return where


def level_of(text: str) -> int:
    name = text.strip().upper()
    if name not in LEVELS:
        raise LogSettingError("level", text, LEVELS)
    return logging.getLevelNamesMapping()[name]


def formatter_for(fmt: str) -> logging.Formatter:
    name = fmt.strip().lower()
    if name == "json":
        return JsonFormatter()
    if name == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise LogSettingError("format", fmt, FORMATS)


def configure(level: str, fmt: str) -> None:
    """Log to standard error at ``level`` in ``fmt`` (``text`` or ``json``).

    Like ``logging.basicConfig``, this leaves a root logger that already has handlers alone
    (an embedding program's, or pytest's). Raises LogSettingError before changing anything."""
    numeric, formatter = level_of(level), formatter_for(fmt)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    logging.basicConfig(level=numeric, handlers=[handler])
