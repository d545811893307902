"""The audit log's hash chain: canonical encodings and the row hash.

Each row says which encoding its hash uses (``chain_version``); rows written before versions
existed are version 1. A row's hash is ``sha256_hex(text.encode("utf-8"))`` where ``text`` is:

Version 2 (every row written now)::

    prev_hash + "\\n2\\n" + str(seq) + "\\n"
    + field(id) + field(at) + field(actor) + field(action)
    + field(environment) + field(deployment_id) + field(details)

    field(None) = "-"     field(text) = str(len(text)) + ":" + text   (len in code points)

Version 1::

    prev_hash + json.dumps(
        [seq, id, at, actor, action, environment, deployment_id, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )

In both, ``at`` is ISO-8601 UTC with microseconds (``2026-11-21T10:00:00.000000+00:00``) and
``details`` is the row's details as canonical JSON text (sorted keys, compact, non-ASCII kept),
exactly as stored. The first row's ``prev_hash`` is 64 zeros. Anyone with the rows can recompute
the chain with nothing but these lines.

Why version 2: it says the same thing (each field's length prefix makes the text decode one
way only; "-" without a length is NULL) at a fraction of the cost of JSON with its escaping,
so a million rows verify in seconds. The version is part of the hashed text, so a row's
encoding cannot be swapped without changing its hash.
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

__all__ = [
    "CHAIN_VERSION",
    "CHAIN_VERSIONS",
    "GENESIS_HASH",
    "ChainFields",
    "canonical_details",
    "hash_v1",
    "hash_v2",
    "row_hash",
]

#: The encoding new rows are hashed with.
CHAIN_VERSION = 2

# One encoder, built once: json.dumps with these options builds a new one on every call.
_V1_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_sha256 = hashlib.sha256


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
    chain_version: int = CHAIN_VERSION


def hash_v1(
    prev_hash: str,
    seq: int,
    id: str,
    at: str,
    actor: str,
    action: str,
    environment: str | None,
    deployment_id: str | None,
    details: str,
) -> str:
    encoded = _V1_JSON.encode([seq, id, at, actor, action, environment, deployment_id, details])
    return _sha256((prev_hash + encoded).encode("utf-8")).hexdigest()


def hash_v2(
    prev_hash: str,
    seq: int,
    id: str,
    at: str,
    actor: str,
    action: str,
    environment: str | None,
    deployment_id: str | None,
    details: str,
) -> str:
    # The nested conditionals keep NULL apart from "" ("-" against "0:") without a call per
    # field: this runs once per row when a million rows are verified.
    text = (
        f"{prev_hash}\n2\n{seq:d}\n{len(id)}:{id}{len(at)}:{at}{len(actor)}:{actor}"
        f"{len(action)}:{action}"
        f"{'-' if environment is None else f'{len(environment)}:{environment}'}"
        f"{'-' if deployment_id is None else f'{len(deployment_id)}:{deployment_id}'}"
        f"{len(details)}:{details}"
    )
    return _sha256(text.encode("utf-8")).hexdigest()


#: Each encoding a row may name in ``chain_version``.
CHAIN_VERSIONS = {1: hash_v1, 2: hash_v2}


def row_hash(prev_hash: str, fields: ChainFields) -> str:
    """The hash of a row with ``fields`` after a row whose hash is ``prev_hash``.

    Raises ValueError for a ``chain_version`` no encoding exists for."""
    encode = CHAIN_VERSIONS.get(fields.chain_version)
    if encode is None:
        raise ValueError(f"unknown chain version {fields.chain_version!r}")
    return encode(
        prev_hash,
        fields.seq,
        fields.id,
        fields.at,
        fields.actor,
        fields.action,
        fields.environment,
        fields.deployment_id,
        fields.details,
    )


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
