"""bot.web.LISTENERS names exactly what bot/listeners registers: a new button or dialog that
is not added there would be refused at the edge, and a stale entry would reach Bolt unmatched."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.listeners import actions, commands, incidents
from bot.web import LISTENERS

from .conftest import Edge


class Recorder:
    """Stands in for the AsyncApp in ``register``: records what each decorator was given."""

    def __init__(self) -> None:
        self.registered: dict[str, set[str]] = {"command": set(), "action": set(), "view": set()}

    def _record(self, kind: str, constraint: Any) -> Callable[[Any], Any]:
        assert isinstance(constraint, str), f"{kind} {constraint!r}: the edge check takes strings"
        self.registered[kind].add(constraint)
        return lambda listener: listener

    def command(self, name: Any) -> Callable[[Any], Any]:
        return self._record("command", name)

    def action(self, action_id: Any) -> Callable[[Any], Any]:
        return self._record("action", action_id)

    def view(self, callback_id: Any) -> Callable[[Any], Any]:
        return self._record("view", callback_id)

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"register() used app.{name}: teach bot.envelope about it")


async def test_the_edge_knows_every_registered_listener(edge: Edge) -> None:
    app = Recorder()
    commands.register(app, edge.settings, edge.services)  # type: ignore[arg-type]
    actions.register(app, edge.settings, edge.services)  # type: ignore[arg-type]
    incidents.register(app, edge.settings, edge.services, None)  # type: ignore[arg-type]
    assert app.registered == {
        "command": set(LISTENERS.commands),
        "action": set(LISTENERS.actions),
        "view": set(LISTENERS.views),
    }
