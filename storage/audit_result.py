"""What ``deploybot audit verify`` found: ``VerifyResult`` (see ``audit_verify``)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import GENESIS_HASH


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of ``AuditLog.verify``.

    ``checked`` counts the rows found good before the first bad one (all rows when ok).
    ``last_seq`` and ``last_hash`` name the end of the chain as walked; when ok, keep them
    somewhere else to anchor the chain (see the module docstring).

    With a key: ``key_checked``; ``keyed`` rows had a good MAC, ``plain_only`` rows came
    before the first keyed row and are covered by the plain chain alone; ``key_mismatch``
    means the given key is not the one the log was written with (not evidence of tampering);
    ``last_mac`` is the last row's MAC (a walk without a key or a checkpoint MAC never reads
    MACs: None then). ``checkpoints`` counts the checkpoints compared.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    key_checked: bool = False
    keyed: int = 0
    plain_only: int = 0
    key_mismatch: bool = False
    checkpoints: int = 0
    last_mac: str | None = None
