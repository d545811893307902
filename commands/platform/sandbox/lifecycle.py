"""What changes a running app: settings and config updates, restarts, start/stop and swaps.

Like App Service, changing app settings or ``linuxFxVersion`` restarts the slot; the version an
app reports is the one implied by its settings at its last (re)start. Every version change on a
unit is recorded as a deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from commands.platform.sandbox.errors import ResourceConflict
from commands.platform.sandbox.resources import (
    PACKAGE_SETTING,
    SLOT_SPECIFIC_CONFIG,
    Deployment,
    Preview,
    Process,
    Site,
    Unit,
    implied_version,
)

Clock = Callable[[], datetime]


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Deep merge for PATCH: nested objects merge, everything else (lists too) replaces."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Lifecycle:
    def __init__(
        self,
        clock: Clock,
        new_id: Callable[[], str],
        artifact_missing: Callable[[str], bool],
        slow_start_s: Callable[[Unit], float],
    ) -> None:
        self._clock = clock
        self._new_id = new_id
        self._artifact_missing = artifact_missing
        self._slow_start_s = slow_start_s

    def _process(self, unit: Unit, now: datetime) -> Process:
        version = implied_version(unit.settings, unit.config)
        missing = PACKAGE_SETTING in unit.settings and self._artifact_missing(version)
        return Process(version, now, missing, self._slow_start_s(unit))

    def record_initial(self, units: list[Unit]) -> None:
        for unit in units:
            self._record(unit, unit.process.version, "initial deployment", "sandbox")

    def restart(self, unit: Unit, cause: str = "restart") -> None:
        now = self._clock()
        before = unit.process.version
        unit.process = self._process(unit, now)
        unit.modified_at = now
        if unit.process.version != before:
            self._record(unit, unit.process.version, f"{before} → {unit.process.version}", cause)

    def start(self, unit: Unit) -> None:
        if unit.state != "Running":
            unit.state = "Running"
            self.restart(unit, "start")

    def stop(self, unit: Unit) -> None:
        unit.state = "Stopped"
        unit.modified_at = self._clock()

    def replace_settings(self, unit: Unit, settings: dict[str, str]) -> None:
        if settings != unit.settings:
            unit.settings = dict(settings)
            self.restart(unit, "app settings")

    def set_config(self, unit: Unit, config: dict[str, Any]) -> None:
        restart = config.get("linuxFxVersion") != unit.config.get("linuxFxVersion")
        unit.config = config
        unit.modified_at = self._clock()
        if restart:
            self.restart(unit, "container image")

    def check_idle(self, site: Site) -> None:
        if site.busy_operation is not None:
            raise ResourceConflict(
                f"Cannot modify this site because another operation is in progress "
                f"(operation {site.busy_operation})."
            )

    def swap(self, site: Site, source: Unit, target: Unit) -> None:
        """Exchange running content, config and non-sticky settings of two slots."""
        preview = site.preview
        source_sticky_base = (
            preview.saved_settings if preview and preview.source is source else source.settings
        )
        sticky = {name.lower() for name in site.sticky_settings}

        def split(settings: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
            stays = {k: v for k, v in settings.items() if k.lower() in sticky}
            moves = {k: v for k, v in settings.items() if k.lower() not in sticky}
            return stays, moves

        source_stays, _ = split(source_sticky_base)
        _, source_moves = split(source.settings)
        target_stays, target_moves = split(target.settings)
        source.settings = {**source_stays, **target_moves}
        target.settings = {**target_stays, **source_moves}
        for key in set(source.config) | set(target.config):
            if key in SLOT_SPECIFIC_CONFIG:
                continue
            a, b = source.config.pop(key, None), target.config.pop(key, None)
            if b is not None:
                source.config[key] = b
            if a is not None:
                target.config[key] = a
        before = {source: source.process.version, target: target.process.version}
        source.process, target.process = target.process, source.process
        now = self._clock()
        for unit, other in ((source, target), (target, source)):
            unit.modified_at = now
            if implied_version(unit.settings, unit.config) != unit.process.version:
                unit.process = self._process(unit, now)  # a sticky version setting: restart
            if unit.process.version != before[unit]:
                self._record(
                    unit,
                    unit.process.version,
                    f"swap with slot {other.slot_name}: {before[unit]} → {unit.process.version}",
                    "slot swap",
                )
        site.preview = None
        site.swap_status = {
            "timestampUtc": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "sourceSlotName": source.slot_name,
            "destinationSlotName": target.slot_name,
        }

    def apply_slot_config(self, site: Site, source: Unit, target: Unit) -> None:
        if site.preview is not None:
            raise ResourceConflict(
                f"A swap with preview between {site.preview.source.slot_name} and "
                f"{site.preview.target.slot_name} is already in progress; reset it first."
            )
        sticky = {name.lower() for name in site.sticky_settings}
        saved = dict(source.settings)
        settings = {k: v for k, v in source.settings.items() if k.lower() not in sticky}
        settings.update({k: v for k, v in target.settings.items() if k.lower() in sticky})
        site.preview = Preview(source, target, saved)
        self.replace_settings(source, settings)

    def reset_slot_config(self, site: Site) -> None:
        preview, site.preview = site.preview, None
        if preview is not None:
            self.replace_settings(preview.source, preview.saved_settings)

    def _record(self, unit: Unit, version: str, message: str, deployer: str) -> None:
        unit.deployments.append(
            Deployment(self._new_id(), version, message, deployer, self._clock())
        )
