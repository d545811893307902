"""Modals: views.open / views.push / views.update and what a submission does to them."""

from __future__ import annotations

import copy
import dataclasses
import itertools

from .blockkit import with_ids
from .clock import Clock
from .errors import SlackError
from .feed import ChangeFeed
from .model import Change, ChangeKind, JsonDict, View
from .validation import VIEW_BLOCK_LIMIT, validate_blocks


class ViewStore:
    def __init__(self, feed: ChangeFeed, clock: Clock):
        self._feed = feed
        self._clock = clock
        self._views: dict[str, View] = {}
        self._ids = itertools.count(1)
        self._hashes = itertools.count(1)

    def open(self, user: str, payload: JsonDict, *, previous: View | None = None) -> View:
        """A new modal for ``user``; with ``previous`` it is pushed on top of that one."""
        payload = check_view(payload)
        external_id = payload.get("external_id") or None
        if external_id and any(v.external_id == external_id for v in self._views.values()):
            raise SlackError("duplicate_external_id", f"external_id {external_id!r} is in use")
        view_id = f"V{next(self._ids):08d}"
        view = View(
            id=view_id,
            user=user,
            payload=payload,
            hash=self._new_hash(),
            external_id=external_id,
            root_view_id=(previous.root_view_id or previous.id) if previous else view_id,
            previous_view_id=previous.id if previous else None,
        )
        self._views[view_id] = view
        self._record("view_open", view)
        return view

    def update(
        self,
        payload: JsonDict,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        old = self.find(view_id=view_id, external_id=external_id)
        if hash and hash != old.hash:
            raise SlackError("hash_conflict", f"view {old.id} changed since hash {hash}")
        new = dataclasses.replace(
            old,
            payload=check_view(payload),
            hash=self._new_hash(),
            errors={},
            external_id=payload.get("external_id") or old.external_id,
        )
        self._views[new.id] = new
        self._record("view_update", new)
        return new

    def set_errors(self, view_id: str, errors: dict[str, str]) -> View:
        view = dataclasses.replace(self.get(view_id), errors=dict(errors))
        self._views[view_id] = view
        self._record("view_update", view)
        return view

    def close(self, view_id: str) -> View:
        view = dataclasses.replace(self.get(view_id), is_open=False)
        self._views[view_id] = view
        self._record("view_close", view)
        return view

    def close_stack(self, view_id: str) -> list[View]:
        """``response_action: clear`` closes the whole stack the view belongs to."""
        root = self.get(view_id).root_view_id or view_id
        stack = [v for v in self.list(open_only=True) if (v.root_view_id or v.id) == root]
        return [self.close(v.id) for v in stack]

    def get(self, view_id: str) -> View:
        return self.find(view_id=view_id)

    def find(self, *, view_id: str | None = None, external_id: str | None = None) -> View:
        if view_id:
            view = self._views.get(view_id)
        elif external_id:
            view = next((v for v in self._views.values() if v.external_id == external_id), None)
        else:
            raise SlackError("invalid_arguments", "view_id or external_id is required")
        if view is None:
            raise SlackError("not_found", f"no view {view_id or external_id!r}")
        return view

    def list(self, user: str | None = None, *, open_only: bool = True) -> list[View]:
        return [
            v
            for v in self._views.values()
            if (user is None or v.user == user) and (v.is_open or not open_only)
        ]

    def top(self, user: str) -> View | None:
        """The modal the user is looking at: the most recently opened one still open."""
        shown = self.list(user)
        return shown[-1] if shown else None

    def _new_hash(self) -> str:
        return f"{int(self._clock())}.{next(self._hashes):08x}"

    def _record(self, kind: ChangeKind, view: View) -> None:
        self._feed.record(Change(self._feed.next_seq(), kind, view=view))


def check_view(payload: JsonDict) -> JsonDict:
    """The view as stored (IDs filled in), or SlackError(invalid_arguments) naming the problem."""
    if not isinstance(payload, dict) or payload.get("type") not in ("modal", "home"):
        raise SlackError("invalid_arguments", "view.type must be modal")
    if payload.get("type") == "modal" and not isinstance(payload.get("title"), dict):
        raise SlackError("invalid_arguments", "a modal needs a title")
    problems = validate_blocks(payload.get("blocks", []), limit=VIEW_BLOCK_LIMIT)
    if problems:
        raise SlackError("invalid_arguments", "; ".join(problems), extra={"errors": problems})
    checked = copy.deepcopy(payload)
    checked["blocks"] = with_ids(checked.get("blocks", []))
    return checked
