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

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from storage.audit_fast import MacStates, mac_states
from storage.errors import InvalidValueError

MIN_KEY_LENGTH = 32


@dataclass(frozen=True, slots=True)
class AuditKey:
    secret: bytes = field(repr=False)
    key_id: str = field(init=False)
    # HMAC (RFC 2104) from its two padded-key states, copied per message: verify MACs every
    # row, and two hashlib copies cost half of what hmac.HMAC.copy() does.
    states: MacStates = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_KEY_LENGTH:
            raise InvalidValueError(
                f"an audit key needs at least {MIN_KEY_LENGTH} bytes "
                "(e.g. the output of `openssl rand -hex 32`)"
            )
        object.__setattr__(self, "states", mac_states(self.secret))
        object.__setattr__(self, "key_id", self._mac(b"deploybot-audit-key-id")[:16])

    @classmethod
    def from_text(cls, text: str) -> AuditKey:
        return cls(text.encode("utf-8"))

    def row_mac(self, row_hash: str) -> str:
        inner = self.states.inner_row.copy()
        inner.update(row_hash.encode("ascii"))
        outer = self.states.outer.copy()
        outer.update(inner.digest())
        return str(outer.hexdigest())

    def head_mac(self, seq: int, head_hash: str) -> str:
        return self._mac(f"deploybot-audit-head:{seq}:{head_hash}".encode("ascii"))

    def _mac(self, message: bytes) -> str:
        inner = self.states.inner.copy()
        inner.update(message)
        outer = self.states.outer.copy()
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

    def mac_states(self) -> dict[str, MacStates]:
        """Each key's HMAC states by key id, for the verify loop (``audit_fast``)."""
        return {key_id: key.states for key_id, key in self._by_id.items()}

    @property
    def previous(self) -> tuple[AuditKey, ...]:
        return tuple(key for key in self._by_id.values() if key is not self.current)


def same(expected: str, given: str | None) -> bool:
    """Constant-time string comparison (a MAC from the database may be anything)."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), str(given).encode("utf-8", "replace"))
