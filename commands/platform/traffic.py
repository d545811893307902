"""Traffic splits as percentages, and how they map to Traffic Manager weights (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_WEIGHT = 1000
_TOLERANCE = 0.01


@dataclass(frozen=True)
class Endpoint:
    """What matters about a Traffic Manager endpoint for routing."""

    name: str
    weight: int
    enabled: bool


@dataclass(frozen=True)
class EndpointChange:
    """One PATCH: ``weight``/``enabled`` are None where they stay as they are."""

    name: str
    weight: int | None = None
    enabled: bool | None = None


class SplitError(ValueError):
    pass


def normalise_split(names: Iterable[str], percents: Mapping[str, float]) -> dict[str, float]:
    """Every target with its percentage (0 where left out); refuses splits that cannot be."""
    known = list(names)
    unknown = sorted(set(percents) - set(known))
    if unknown:
        raise SplitError(f"unknown target {unknown[0]!r}; expected one of {', '.join(known)}")
    split = {name: float(percents.get(name, 0.0)) for name in known}
    for name, percent in split.items():
        if not math.isfinite(percent) or not 0 <= percent <= 100:
            raise SplitError(f"{name}: {percent:g} % is not between 0 and 100")
    total = sum(split.values())
    if abs(total - 100) > _TOLERANCE:
        raise SplitError(f"the percentages add up to {total:g}, not 100")
    return split


def weight_for(percent: float) -> int:
    """p % → weight p·10, so two sides keep the ratio p : (100 − p); 0 % never becomes 0."""
    return max(1, min(MAX_WEIGHT, round(percent * MAX_WEIGHT / 100)))


def plan_split(current: Mapping[str, Endpoint], split: Mapping[str, float]) -> list[EndpointChange]:
    """The PATCHes that take the endpoints to ``split``, in a safe order.

    Endpoints that stay enabled are re-weighted first, then new ones are enabled, and only
    then are the ones going to 0 % disabled: at no moment is every endpoint disabled.
    """
    reweight: list[EndpointChange] = []
    enable: list[EndpointChange] = []
    disable: list[EndpointChange] = []
    for name, percent in split.items():
        endpoint = current[name]
        if percent <= 0:
            if endpoint.enabled:
                disable.append(EndpointChange(name, enabled=False))
            continue
        weight = weight_for(percent)
        if not endpoint.enabled:
            enable.append(EndpointChange(name, weight=weight, enabled=True))
        elif endpoint.weight != weight:
            reweight.append(EndpointChange(name, weight=weight))
    return [*reweight, *enable, *disable]


def split_of(endpoints: Iterable[Endpoint]) -> dict[str, float]:
    """Each endpoint's share of traffic by weight among the enabled ones."""
    endpoints = list(endpoints)
    total = sum(e.weight for e in endpoints if e.enabled)
    return {
        e.name: (100.0 * e.weight / total if e.enabled and total > 0 else 0.0) for e in endpoints
    }
