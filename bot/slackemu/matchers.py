"""Ready-made predicates for ``Workspace.wait_for``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Change, ChangeKind
from .text import searchable_text

Predicate = Callable[[Change], bool]


def message_in(
    channel_id: str,
    contains: str = "",
    *,
    thread_ts: str | None = None,
    kinds: tuple[ChangeKind, ...] = ("message",),
    names: Mapping[str, str] | None = None,
) -> Predicate:
    """A channel message posted (or edited, with ``kinds``) whose shown text contains a string."""

    def matches(change: Change) -> bool:
        m = change.message
        return (
            m is not None
            and change.kind in kinds
            and m.channel == channel_id
            and (thread_ts is None or m.thread_ts == thread_ts)
            and contains in searchable_text(m, names)
        )

    return matches


def ephemeral_to(
    user_id: str, contains: str = "", *, names: Mapping[str, str] | None = None
) -> Predicate:
    """An ephemeral shown (new or replaced) to the user whose shown text contains a string."""

    def matches(change: Change) -> bool:
        e = change.ephemeral
        return (
            e is not None
            and change.kind in ("ephemeral", "ephemeral_replace")
            and e.user == user_id
            and contains in searchable_text(e, names)
        )

    return matches
