"""The keyed layer of the audit log: HMAC-SHA256 with a secret that is not in the database.

With a key, each row also stores::

    key_id = hmac_sha256_hex(key, "deploybot-audit-key-id")[:16]
    mac    = hmac_sha256_hex(key, "deploybot-audit-row:" + hash)

and the head row stores the same ``key_id`` and::

    mac    = hmac_sha256_hex(key, f"deploybot-audit-head:{seq}:{hash}")

``hash`` is the plain chain's row hash (``audit_chain``), which already commits to every row
before it, so one MAC per row is enough. The two prefixes keep a row's MAC from ever being
usable as a head MAC: otherwise truncating the log and copying the new last row's MAC into the
head would pass. ``key_id`` names the key so a wrong key reads as "the key does not match this
log" rather than as tampering, and so rows written before a rotation verify with the previous
key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from storage.errors import InvalidValueError

MIN_KEY_LENGTH = 32
_BLOCK = 64  # SHA-256's block size, in bytes
_ROW = b"deploybot-audit-row:"


@dataclass(frozen=True, slots=True)
class AuditKey:
    secret: bytes = field(repr=False)
    key_id: str = field(init=False)
    # HMAC (RFC 2104) from its two padded-key states, copied per message: verify MACs every
    # row, and two hashlib copies cost half of what hmac.HMAC.copy() does.
    _inner: Any = field(init=False, repr=False, compare=False)
    _outer: Any = field(init=False, repr=False, compare=False)
    _inner_row: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_LENGTH:
            raise InvalidValueError(
                f"an audit key needs at least {MIN_KEY_LENGTH} bytes "
                "(e.g. the output of `openssl rand -hex 32`)"
            )
        block = self.secret if len(self.secret) <= _BLOCK else hashlib.sha256(self.secret).digest()
        block = block.ljust(_BLOCK, b"\0")
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_outer", hashlib.sha256(bytes(b ^ 0x5C for b in block)))
        inner_row = inner.copy()
        inner_row.update(_ROW)
        object.__setattr__(self, "_inner_row", inner_row)
        object.__setattr__(self, "key_id", self._mac(b"deploybot-audit-key-id")[:16])

    @classmethod
    def from_text(cls, text: str) -> AuditKey:
        return cls(text.encode("utf-8"))

    def row_mac(self, row_hash: str) -> str:
        inner = self._inner_row.copy()
        inner.update(row_hash.encode("ascii"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())

    def head_mac(self, seq: int, head_hash: str) -> str:
        return self._mac(f"deploybot-audit-head:{seq}:{head_hash}".encode("ascii"))

    def _mac(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())


class Keyring:
    """The key new rows are written with, plus earlier keys that still verify older rows."""

    def __init__(self, current: AuditKey, previous: Iterable[AuditKey] = ()) -> None:
        self.current = current
        self._by_id = {key.key_id: key for key in (*previous, current)}

    def find(self, key_id: str | None) -> AuditKey | None:
        return None if key_id is None else self._by_id.get(key_id)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    @property
    def previous(self) -> tuple[AuditKey, ...]:
        return tuple(key for key in self._by_id.values() if key is not self.current)


def same(expected: str, given: str | None) -> bool:
    """Constant-time string comparison (a MAC from the database may be anything)."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), str(given).encode("utf-8", "replace"))
