"""Read-side values for deployments: ``Deployment`` and its ``Step`` checklist."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from storage.errors import InvalidValueError
from storage.models import DeploymentRow
from storage.timeutil import as_utc, iso_utc, parse_iso_utc
from storage.validate import json_object, optional_text, require_text

DeploymentKind = Literal["deploy", "rollback", "canary"]
DEPLOYMENT_KINDS: frozenset[str] = frozenset({"deploy", "rollback", "canary"})
TERMINAL_STATES: frozenset[str] = frozenset(
    {"succeeded", "failed", "rolled_back", "rejected", "expired", "cancelled"}
)

StepStatus = Literal["pending", "running", "done", "failed", "skipped"]
STEP_STATUSES: frozenset[str] = frozenset({"pending", "running", "done", "failed", "skipped"})
FINISHED_STEP_STATUSES: frozenset[str] = frozenset({"done", "failed", "skipped"})

#: Fields ``update`` may change. Kind, environment, version and strategy are fixed at
#: creation: approvals bind to them.
UPDATABLE_FIELDS: frozenset[str] = frozenset(
    {
        "state",
        "current_step",
        "steps",
        "flags",
        "context",
        "error",
        "card_channel",
        "card_ts",
        "card_state",
        "approvals_required",
        "from_version",
        "reason",
        "finished_at",
        "expires_at",
    }
)


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    status: StepStatus = "pending"
    detail: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "started_at": None if self.started_at is None else iso_utc(self.started_at),
            "finished_at": None if self.finished_at is None else iso_utc(self.finished_at),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Step:
        started, finished = value.get("started_at"), value.get("finished_at")
        return cls(
            name=str(value["name"]),
            status=step_status(value.get("status", "pending")),
            detail=value.get("detail"),
            started_at=None if started is None else parse_iso_utc(started),
            finished_at=None if finished is None else parse_iso_utc(finished),
        )


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    kind: DeploymentKind
    environment: str
    version: str
    from_version: str | None
    strategy: str
    requested_by: str
    reason: str | None
    state: str
    current_step: str | None
    steps: tuple[Step, ...]
    flags: Mapping[str, Any]
    context: Mapping[str, Any]
    error: Mapping[str, Any] | None
    idempotency_key: str | None
    card_channel: str | None
    card_ts: str | None
    approvals_required: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    card_state: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def is_dry_run(self) -> bool:
        return bool(self.flags.get("dry_run"))

    def step(self, name: str) -> Step | None:
        return next((step for step in self.steps if step.name == name), None)


def deployment_kind(value: object) -> DeploymentKind:
    if value not in DEPLOYMENT_KINDS:
        raise InvalidValueError(
            f"deployment kind must be deploy, rollback or canary, not {value!r}"
        )
    return cast(DeploymentKind, value)


def step_status(value: object) -> StepStatus:
    if value not in STEP_STATUSES:
        raise InvalidValueError(
            f"step status must be one of {', '.join(sorted(STEP_STATUSES))}, not {value!r}"
        )
    return cast(StepStatus, value)


def steps_json(steps: object) -> list[dict[str, Any]]:
    """Steps given as names, ``Step`` values or step dicts, as stored JSON."""
    if isinstance(steps, str | bytes) or not isinstance(steps, list | tuple):
        raise InvalidValueError("steps must be a list of step names, Step values or step dicts")
    out: list[dict[str, Any]] = []
    for item in steps:
        if isinstance(item, str):
            step = Step(require_text("step name", item))
        elif isinstance(item, Step):
            step = item
        elif isinstance(item, Mapping):
            try:
                step = Step.from_json(item)
            except KeyError as error:
                raise InvalidValueError(f"step {dict(item)!r} has no name") from error
            except (TypeError, ValueError) as error:
                raise InvalidValueError(f"step {dict(item)!r} is malformed: {error}") from error
        else:
            raise InvalidValueError(f"a step must be a name, Step or dict, not {item!r}")
        require_text("step name", step.name)
        optional_text("step detail", step.detail)
        out.append(step.to_json())
    names = [step["name"] for step in out]
    if len(set(names)) != len(names):
        raise InvalidValueError(f"step names must be unique, got {names}")
    return out


def to_deployment(row: DeploymentRow) -> Deployment:
    return Deployment(
        id=row.id,
        kind=deployment_kind(row.kind),
        environment=row.environment,
        version=row.version,
        from_version=row.from_version,
        strategy=row.strategy,
        requested_by=row.requested_by,
        reason=row.reason,
        state=row.state,
        current_step=row.current_step,
        steps=tuple(Step.from_json(step) for step in row.steps or ()),
        flags=dict(row.flags or {}),
        context=dict(row.context or {}),
        error=None if row.error is None else dict(row.error),
        idempotency_key=row.idempotency_key,
        card_channel=row.card_channel,
        card_ts=row.card_ts,
        approvals_required=row.approvals_required,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        expires_at=row.expires_at,
        card_state=row.card_state,
    )


def updatable_changes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, storable values for ``Deployments.update``; unknown fields are refused."""
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        raise InvalidValueError(
            f"cannot update {', '.join(unknown)}; updatable: {', '.join(sorted(UPDATABLE_FIELDS))}"
        )
    return {name: _converted(name, value) for name, value in fields.items()}


def _converted(name: str, value: Any) -> Any:
    if name == "state":
        return require_text("state", value)
    if name == "steps":
        return steps_json(value)
    if name in ("flags", "context"):
        return json_object(name, value)
    if name == "error":
        return None if value is None else json_object("error", value)
    if name == "approvals_required":
        return approvals_required_value(value)
    if name in ("finished_at", "expires_at"):
        return None if value is None else as_utc(value, name)
    if name in ("current_step", "card_channel", "card_ts", "card_state", "from_version"):
        return optional_text(name, value)
    return value


def approvals_required_value(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidValueError(f"approvals_required must be a whole number >= 0, got {value!r}")
    return value
