"""The cloud behind one small interface: what the deploy, canary and rollback jobs need.

``AzurePlatform`` (commands.platform.azure) implements it on the Azure SDK; the local sandbox
is reached through the same implementation by pointing it at the sandbox's ARM endpoint.
Every method raises ``commands.platform.errors.PlatformError`` (or a subclass) on failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Literal, Protocol

from commands.config.model import Environment
from commands.platform.state import (
    EnvironmentState,
    MetricPoint,
    MetricSeries,
    SiteInfo,
    TargetState,
)
from commands.platform.targets import (
    PRODUCTION,
    Deployable,
    TargetRef,
    check_version,
    public_url,
    site_of,
    target_of,
    target_url,
    targets_of,
)


class CallObserver(Protocol):
    """Told about every Azure request once it has finished (for the audit log).

    ``outcome`` is ``"ok"``, ``"retry"`` (this attempt failed and will be repeated) or
    ``"error"``; ``error_code`` is Azure's code (or ours, e.g. ``Timeout``) when it failed.
    It is called synchronously on the event loop: keep it quick and never let it raise.
    """

    def __call__(
        self,
        operation: str,
        resource: str,
        outcome: str,
        duration_s: float,
        error_code: str | None,
    ) -> None: ...


SwapAccepted = Callable[[str], Awaitable[None]]
"""Told the swap operation's continuation token as soon as Azure accepts the request."""
SwapOutcome = Literal["succeeded", "failed", "unknown"]


class Platform(Protocol):
    async def read_state(self, env: Environment) -> EnvironmentState:
        """Versions on every target, the traffic split, and which target is live."""
        ...

    async def read_site(self, target: TargetRef, version_setting: str = "APP_VERSION") -> SiteInfo:
        """One slot or Web App without routing (e.g. apps outside any environment)."""
        ...

    async def put_version(self, target: TargetRef, deployable: Deployable) -> None:
        """Point the target at the package or image and set the version app setting."""
        ...

    async def restart(self, target: TargetRef) -> None: ...

    async def swap(
        self,
        site: TargetRef,
        slot: str,
        target_slot: str = PRODUCTION,
        *,
        on_accepted: SwapAccepted | None = None,
    ) -> None:
        """Swap ``slot`` of ``site``'s Web App into ``target_slot``; waits for the operation.

        ``on_accepted`` gets the operation's continuation token once Azure has accepted it.
        """
        ...

    async def settle_swap(
        self, site: TargetRef, slot: str, token: str, target_slot: str = PRODUCTION
    ) -> tuple[SwapOutcome, str]:
        """Wait for the swap ``token`` names (started by any process) to end; how it did."""
        ...

    async def swap_preview(self, site: TargetRef, slot: str) -> None:
        """Phase one of a swap with preview: apply production's config to ``slot``.

        Complete it with ``swap`` or cancel it with ``swap_reset``.
        """
        ...

    async def swap_reset(self, site: TargetRef) -> None: ...

    async def set_ramp_up(self, site: TargetRef, slot: str, percent: float) -> None:
        """Send ``percent`` % of production's traffic to ``slot``; 0 removes the rule."""
        ...

    async def set_split(self, env: Environment, percents: Mapping[str, float]) -> None:
        """Make the traffic split exactly ``percents`` (target → %, summing to 100).

        Targets left out get 0 %. With slots this is a ramp-up rule on the staging slot.
        """
        ...

    async def read_metrics(
        self,
        target: TargetRef,
        start: datetime,
        end: datetime,
        interval: timedelta = timedelta(minutes=1),
    ) -> MetricSeries: ...

    async def close(self) -> None: ...


__all__ = [
    "PRODUCTION",
    "CallObserver",
    "Deployable",
    "EnvironmentState",
    "MetricPoint",
    "MetricSeries",
    "Platform",
    "SiteInfo",
    "SwapAccepted",
    "SwapOutcome",
    "TargetRef",
    "TargetState",
    "check_version",
    "public_url",
    "site_of",
    "target_of",
    "target_url",
    "targets_of",
]
