"""What every Web API method implementation gets to work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .interactions import Interactions
from .model import JsonDict
from .params import Params
from .workspace import Workspace


@dataclass(frozen=True)
class CallContext:
    ws: Workspace
    interactions: Interactions
    base_url: str = ""
    """Where the emulator serves, ending with a slash (for URLs it hands out)."""


Handler = Callable[[CallContext, Params], JsonDict]
