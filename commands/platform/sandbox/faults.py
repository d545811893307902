"""Fault injection: per app/slot, per version, and on the fake ARM endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.world import World

DEPENDENCIES = ("database", "redis")
"""What every app shares: one down makes each app's check of it fail, whatever its version."""
ARM_FAULT_KINDS = ("throttle", "server_error", "slow_lro", "swap_failed", "hang")
LRO_FAULT_KINDS = ("slow_lro", "swap_failed")


@dataclass(frozen=True)
class AppFault:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    down: bool = False
    slow_start_s: float = 0.0


@dataclass(frozen=True)
class VersionFault:
    unhealthy: bool = False
    error_rate: float = 0.0
    latency_ms: float = 0.0
    missing_artifact: bool = False
    drop_rate: float = 0.0
    """Share of API requests whose worker crashes before answering: the front end answers 502
    and the app's own /metrics never counts them (only its throughput shows it)."""


@dataclass
class ArmFault:
    kind: str
    remaining: int | None  # None: until cleared
    match: str
    retry_after: int
    polls: int
    seconds: float = 0.0  # hang: answer after this long; slow_lro: finish this long after it began
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "match": self.match,
            "retry_after": self.retry_after,
            "polls": self.polls,
            "seconds": self.seconds,
        }


def _rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SandboxError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _non_negative(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3.6e6:
        raise SandboxError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


class Faults:
    """The sandbox's fault switches. ``sb.faults`` in Python; ``/admin/faults/*`` over HTTP."""

    def __init__(
        self,
        world: World,
        on_down: Callable[[Unit, bool], None],
        release_operations: Callable[[], None],
    ) -> None:
        self._world = world
        self._on_down = on_down
        self._release_operations = release_operations
        self._apps: dict[tuple[str, str | None], AppFault] = {}
        self._versions: dict[str, VersionFault] = {}
        self._arm: list[ArmFault] = []
        self._dependencies_down: set[str] = set()
        self._hangs: list[ArmFault] = []  # kept until clear(), even once used up
        self._hanging = 0
        self._hanging_changed = asyncio.Condition()

    def app(
        self,
        app: str,
        slot: str | None = None,
        *,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        down: bool = False,
        slow_start_s: float = 0.0,
    ) -> None:
        """Make one app/slot host misbehave (replaces that host's previous fault)."""
        if not isinstance(app, str) or not (slot is None or isinstance(slot, str)):
            raise SandboxError("app (and slot, when given) must be strings")
        unit = self._world.unit(app, slot)
        fault = AppFault(
            _rate("error_rate", error_rate),
            _non_negative("latency_ms", latency_ms),
            bool(down),
            _non_negative("slow_start_s", slow_start_s),
        )
        was_down = self.for_unit(unit).down
        if fault == AppFault():
            self._apps.pop(unit.key, None)
        else:
            self._apps[unit.key] = fault
        if fault.down != was_down:
            self._on_down(unit, fault.down)

    def version(
        self,
        version: str,
        *,
        unhealthy: bool = False,
        error_rate: float = 0.0,
        latency_ms: float = 0.0,
        missing_artifact: bool = False,
        drop_rate: float = 0.0,
    ) -> None:
        """Make every app running ``version`` misbehave (and/or its artifact missing)."""
        if not isinstance(version, str) or not version:
            raise SandboxError("version must be a non-empty string")
        fault = VersionFault(
            bool(unhealthy),
            _rate("error_rate", error_rate),
            _non_negative("latency_ms", latency_ms),
            bool(missing_artifact),
            _rate("drop_rate", drop_rate),
        )
        if fault == VersionFault():
            self._versions.pop(version, None)
        else:
            self._versions[version] = fault

    def dependency(self, name: str, *, down: bool = True) -> None:
        """Take a dependency every app shares down (or bring it back): an outage that is no
        version's fault."""
        if name not in DEPENDENCIES:
            raise SandboxError(f"unknown dependency {name!r}; use one of {', '.join(DEPENDENCIES)}")
        if down:
            self._dependencies_down.add(name)
        else:
            self._dependencies_down.discard(name)

    def dependency_down(self, name: str) -> bool:
        return name in self._dependencies_down

    def arm(
        self,
        kind: str,
        *,
        times: int = 1,
        match: str = "",
        retry_after: int = 1,
        polls: int = 0,
        seconds: float = 0.0,
    ) -> None:
        """Fail the next ``times`` ARM requests (or LROs) whose path contains ``match``.

        ``times`` <= 0 keeps the fault until ``clear()``. ``slow_lro`` keeps the operation in
        progress for ``polls`` polls, or until ``release_lro()`` when ``polls`` is 0; with
        ``seconds`` it finishes that long after it began, polled or not, as Azure's own
        operations do when the client that started them has gone. ``hang`` holds a request
        until cleared or, with ``seconds``, that long; then the request is carried out.
        """
        if kind not in ARM_FAULT_KINDS:
            raise SandboxError(
                f"unknown ARM fault {kind!r}; use one of {', '.join(ARM_FAULT_KINDS)}"
            )
        for name, value in (("times", times), ("retry_after", retry_after), ("polls", polls)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise SandboxError(f"{name} must be an integer, got {value!r}")
        if retry_after < 0 or polls < 0:
            raise SandboxError("retry_after and polls must not be negative")
        if not isinstance(match, str):
            raise SandboxError("match must be a string")
        fault = ArmFault(
            kind,
            times if times > 0 else None,
            match.lower(),
            retry_after,
            polls,
            _non_negative("seconds", seconds),
        )
        self._arm.append(fault)
        if kind == "hang":
            self._hangs.append(fault)

    def release_lro(self) -> None:
        """Let every held long-running operation finish now."""
        self._release_operations()

    def clear(self) -> None:
        """Remove every fault, answer hanging requests and release held operations."""
        self.release_hangs()
        self._arm.clear()
        self._versions.clear()
        self._dependencies_down.clear()
        down = [unit for unit in self._world.units() if self.for_unit(unit).down]
        self._apps.clear()
        for unit in down:
            self._on_down(unit, False)
        self._release_operations()

    def release_hangs(self) -> None:
        for fault in self._hangs:
            fault.released.set()
        self._hangs.clear()

    @property
    def hanging(self) -> int:
        """How many ARM requests a ``hang`` fault is holding right now."""
        return self._hanging

    async def until_hanging(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for_arm
    ) -> None:
        """Wait until ``count`` requests are being held by ``hang`` faults."""
        async with asyncio.timeout(timeout), self._hanging_changed:
            await self._hanging_changed.wait_for(lambda: self._hanging >= count)

    async def hang(self, fault: ArmFault) -> None:
        """Hold a request until the fault is cleared (the sandbox stopping clears it too)."""
        async with self._hanging_changed:
            self._hanging += 1
            self._hanging_changed.notify_all()
        try:
            if fault.seconds > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(fault.released.wait(), fault.seconds)
            else:
                await fault.released.wait()
        finally:
            self._hanging -= 1

    # Queries used by the servers.

    def for_unit(self, unit: Unit) -> AppFault:
        return self._apps.get(unit.key, AppFault())

    def for_version(self, version: str) -> VersionFault:
        return self._versions.get(version, VersionFault())

    def take_arm(self, path: str, kinds: tuple[str, ...]) -> ArmFault | None:
        """The first armed fault of ``kinds`` matching ``path``, using up one of its times."""
        low = path.lower()
        for fault in self._arm:
            if fault.kind in kinds and fault.match in low:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._arm.remove(fault)
                return fault
        return None

    def snapshot(self) -> dict[str, Any]:
        return {
            "apps": {
                (f"{app}/{slot}" if slot else app): asdict(f)
                for (app, slot), f in self._apps.items()
            },
            "versions": {v: asdict(f) for v, f in self._versions.items()},
            "dependencies_down": sorted(self._dependencies_down),
            "arm": [f.describe() for f in self._arm],
            "hanging": self._hanging,
        }
