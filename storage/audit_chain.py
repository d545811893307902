"""The audit log's hash chain: canonical encodings and the row hash.

A row's hash is::

    sha256_hex(prev_hash + json.dumps(
        [seq, id, at, actor, action, environment, deployment_id, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )) over UTF-8

where ``at`` is ISO-8601 UTC with microseconds (``2026-11-21T10:00:00.000000+00:00``) and
``details`` is the row's details as canonical JSON text (sorted keys, compact, non-ASCII kept),
exactly as stored. The first row's ``prev_hash`` is 64 zeros. Anyone with the rows can recompute
the chain with nothing but these lines.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from storage.errors import InvalidValueError
from storage.models import GENESIS_HASH

__all__ = ["GENESIS_HASH", "ChainFields", "canonical_details", "row_hash"]


@dataclass(frozen=True, slots=True)
class ChainFields:
    """The hashed fields of one audit row, as stored."""

    seq: int
    id: str
    at: str
    actor: str
    action: str
    environment: str | None
    deployment_id: str | None
    details: str


def row_hash(prev_hash: str, fields: ChainFields) -> str:
    encoded = json.dumps(
        [
            fields.seq,
            fields.id,
            fields.at,
            fields.actor,
            fields.action,
            fields.environment,
            fields.deployment_id,
            fields.details,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256((prev_hash + encoded).encode("utf-8")).hexdigest()


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Canonical JSON text for ``details``. Datetimes become ISO-8601 text; NaN is refused."""
    if details is None:
        return "{}"
    if not isinstance(details, Mapping):
        raise InvalidValueError(f"audit details must be a mapping, got {type(details).__name__}")
    try:
        return json.dumps(
            _plain(details),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError) as error:
        raise InvalidValueError(f"audit details are not JSON-serializable: {error}") from error


def parse_details(text: str) -> dict[str, Any]:
    """Stored details back to a dict; a tampered, unparseable value is returned under "$raw"."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"$raw": text}
    return value if isinstance(value, dict) else {"$raw": text}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValueError(f"audit details keys must be strings, got {key!r}")
            out[key] = _plain(item)
        return out
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValueError(f"audit details cannot hold {value!r}")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidValueError(f"audit details cannot hold a {type(value).__name__}: {value!r}")
