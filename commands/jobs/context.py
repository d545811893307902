"""A job's working memory, typed: what it chose and found, kept in the deployment's context.

The context column is JSON. ``JobContext.of(deployment)`` is the one place that reads it and
``JobContext.to_json()`` the one place that writes it; a missing or malformed key reads as
"not known yet" (None), so rows written by older versions still load. Keys this version does
not know are carried along untouched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict, cast

from storage import Deployment
from storage.timeutil import iso_utc, parse_iso_utc

Method = Literal["deploy", "swap back", "flip back"]
METHODS: frozenset[str] = frozenset({"deploy", "swap back", "flip back"})
Traffic = tuple[tuple[str, float], ...]


class ContextChanges(TypedDict, total=False):
    """The fields ``Job.save`` may change (keyword arguments, checked by mypy)."""

    target: str | None
    live: str | None
    previous_version: str | None
    method: Method | None
    traffic: Traffic
    traffic_effective: bool | None
    switched: bool
    watch_until: datetime | None
    rollback_reason: str | None
    rollback_requested_by: str | None
    rollback_note: str | None
    swap: PendingSwap | None
    canary: CanaryProgress | None


class MetricRow(NamedTuple):
    """One line of the card's canary table, formatted: e.g. error rate 0.4 % vs 0.3 %, ≤ 1 %."""

    metric: str
    canary: str
    baseline: str
    threshold: str
    ok: bool


@dataclass(frozen=True, slots=True)
class CanaryProgress:
    """Where a canary is: persisted at every change, so a restart resumes the stage."""

    stage: int = 0
    """Index into the deployment's stages (``flags.stages``)."""
    stage_started_at: datetime | None = None
    """When the current stage's traffic share was set; the hold counts from here."""
    hold_s: float = 0.0
    """How long the current stage lasts, extensions included."""
    extensions: int = 0
    effective: bool | None = None
    """The set share was seen through the public host (Traffic Manager is DNS)."""
    paused: str | None = None
    """Why the canary is paused (a person, or the judge asking), None while it runs."""
    rule: str | None = None
    """The last rule that fired, with its values."""
    rows: tuple[MetricRow, ...] = ()
    judge: Mapping[str, Any] | None = None
    """What the stage's judge has seen (``commands.canary.memory``), kept as its JSON."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage,
            "hold_s": self.hold_s,
            "extensions": self.extensions,
            "rows": [list(row) for row in self.rows],
        }
        if self.judge is not None:
            out["judge"] = dict(self.judge)
        if self.stage_started_at is not None:
            out["stage_started_at"] = iso_utc(self.stage_started_at)
        for name in ("effective", "paused", "rule"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_json(cls, value: object) -> CanaryProgress | None:
        if not isinstance(value, Mapping):
            return None
        stage, hold, extensions = value.get("stage"), value.get("hold_s"), value.get("extensions")
        effective = value.get("effective")
        rows = value.get("rows")
        return cls(
            stage=stage if isinstance(stage, int) and stage >= 0 else 0,
            stage_started_at=_when(value.get("stage_started_at")),
            hold_s=float(hold) if isinstance(hold, int | float) else 0.0,
            extensions=extensions if isinstance(extensions, int) else 0,
            effective=effective if isinstance(effective, bool) else None,
            paused=_text(value.get("paused")),
            rule=_text(value.get("rule")),
            rows=tuple(
                MetricRow(str(row[0]), str(row[1]), str(row[2]), str(row[3]), bool(row[4]))
                for row in rows
                if isinstance(row, list) and len(row) == 5
            )
            if isinstance(rows, list)
            else (),
            judge=judge if isinstance(judge := value.get("judge"), Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class PendingSwap:
    """A slot swap this job asked Azure for, recorded as the request goes out.

    Azure finishes a swap whether or not the process that asked is still alive, so a job
    resumed after a crash waits for it (``token``, once Azure accepted it) before deciding.
    """

    step: str
    requested_at: datetime
    token: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "requested_at": iso_utc(self.requested_at)}
        if self.token is not None:
            out["token"] = self.token
        return out

    @classmethod
    def from_json(cls, value: object) -> PendingSwap | None:
        if not isinstance(value, Mapping):
            return None
        step, when = _text(value.get("step")), _when(value.get("requested_at"))
        if step is None or when is None:
            return None
        return cls(step, when, _text(value.get("token")))


@dataclass(frozen=True, slots=True)
class JobContext:
    target: str | None = None
    """The target (slot or app) the new version goes to: idle before the switch."""
    live: str | None = None
    """The target that served production when the deployment started."""
    previous_version: str | None = None
    """The version ``live`` ran then: what a rollback goes back to."""
    method: Method | None = None
    """``deploy`` the version, or ``swap back``/``flip back`` to the one still on ``target``."""
    traffic: Traffic = ()
    traffic_effective: bool | None = None
    switched: bool = False
    """Production traffic went to ``target``: a failure now means switching back."""
    watch_until: datetime | None = None
    rollback_reason: str | None = None
    """Why the job is rolling back (a breached rule, a failed step, a person's request)."""
    rollback_requested_by: str | None = None
    """The user who pressed Roll back or ran /rollback during the watch."""
    rollback_note: str | None = None
    """How the rollback went, for the card: e.g. ``flip back to blue, 0.02s``."""
    override: str | None = None
    started_at: datetime | None = None
    swap: PendingSwap | None = None
    """The last slot swap asked for, and by which step (see ``PendingSwap``)."""
    canary: CanaryProgress | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Keys this version does not know, kept so that writing never loses them."""

    @property
    def switching_back(self) -> bool:
        """A rollback that finds the old version still on the idle target just switches."""
        return self.method in ("swap back", "flip back")

    @classmethod
    def of(cls, deployment: Deployment) -> JobContext:
        return cls.from_json(deployment.context)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> JobContext:
        method = value.get("method")
        effective = value.get("traffic_effective")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        return cls(
            target=_text(value.get("target")),
            live=_text(value.get("live")),
            previous_version=_text(value.get("previous_version")),
            method=cast(Method, method) if method in METHODS else None,
            traffic=_traffic(value.get("traffic")),
            traffic_effective=effective if isinstance(effective, bool) else None,
            switched=value.get("switched") is True,
            watch_until=_when(value.get("watch_until")),
            rollback_reason=_text(value.get("rollback_reason")),
            rollback_requested_by=_text(value.get("rollback_requested_by")),
            rollback_note=_text(value.get("rollback_note")),
            override=_text(value.get("override")),
            started_at=_when(value.get("started_at")),
            swap=PendingSwap.from_json(value.get("swap")),
            canary=CanaryProgress.from_json(value.get("canary")),
            extra={k: v for k, v in value.items() if k not in known},
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form: only what is known, times as ISO text, traffic as an object."""
        out: dict[str, Any] = dict(self.extra)
        for name in (
            "target",
            "live",
            "previous_version",
            "method",
            "traffic_effective",
            "rollback_reason",
            "rollback_requested_by",
            "rollback_note",
            "override",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.traffic:
            out["traffic"] = dict(self.traffic)
        if self.switched:
            out["switched"] = True
        if self.swap is not None:
            out["swap"] = self.swap.to_json()
        if self.canary is not None:
            out["canary"] = self.canary.to_json()
        for name in ("watch_until", "started_at"):
            when = getattr(self, name)
            if when is not None:
                out[name] = iso_utc(when)
        return out

    def updated(self, changes: ContextChanges) -> JobContext:
        return dataclasses.replace(self, **changes)


def traffic_to(target: str) -> Traffic:
    """All production traffic on one target."""
    return ((target, 100.0),)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _traffic(value: object) -> Traffic:
    pairs = (
        value.items() if isinstance(value, Mapping) else value if isinstance(value, list) else []
    )
    out: list[tuple[str, float]] = []
    for pair in pairs:
        if (
            isinstance(pair, list | tuple)
            and len(pair) == 2
            and isinstance(pair[1], int | float)
            and not isinstance(pair[1], bool)
        ):
            out.append((str(pair[0]), float(pair[1])))
    return tuple(out)


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_iso_utc(value) if isinstance(value, str) else None
    except ValueError:  # a malformed time reads as unknown: the card must still render
        return None
