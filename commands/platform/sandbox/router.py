"""A tiny case-insensitive path router (ARM paths are case-insensitive; aiohttp's router is not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

H = TypeVar("H")


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    parts: tuple[str, ...]
    handler: H


class NoRoute(Exception):
    def __init__(self, method_not_allowed: bool) -> None:
        super().__init__()
        self.method_not_allowed = method_not_allowed


def split_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


class Router(Generic[H]):
    """Patterns like ``subscriptions/{sub}/providers/microsoft.web/sites``.

    ``{name}`` captures one segment (original case kept); a leading ``{*name}`` captures one or
    more segments joined with "/" and prefixed with "/" (a resource id in front of a suffix).
    """

    def __init__(self) -> None:
        self._routes: list[Route[H]] = []

    def add(self, method: str, pattern: str, handler: H) -> None:
        parts = tuple(p if p.startswith("{") else p.lower() for p in split_path(pattern))
        self._routes.append(Route(method.upper(), parts, handler))

    def resolve(self, method: str, path: str) -> tuple[H, dict[str, str]]:
        segments = split_path(path)
        path_matched = False
        for route in self._routes:
            params = _match(route.parts, segments)
            if params is None:
                continue
            if route.method == method.upper():
                return route.handler, params
            path_matched = True
        raise NoRoute(method_not_allowed=path_matched)


def _match(parts: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    if parts and parts[0].startswith("{*"):
        rest = parts[1:]
        if len(segments) <= len(rest):
            return None
        cut = len(segments) - len(rest)
        params[parts[0][2:-1]] = "/" + "/".join(segments[:cut])
        parts, segments = rest, segments[cut:]
    if len(parts) != len(segments):
        return None
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{"):
            params[part[1:-1]] = segment
        elif part != segment.lower():
            return None
    return params
