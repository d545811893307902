"""Which environment an alert is about: by Azure resource ID, by label matchers, or by a
label that names the environment. Pure: config and alerts in, a decision out."""

from __future__ import annotations

from dataclasses import dataclass

from commands.config.model import Config, Environment
from commands.incidents.alerts import Alert, AlertBatch


@dataclass(frozen=True)
class Mapped:
    environment: str | None
    # How it was mapped, or why it was not: shown on the card and kept in the audit row.
    why: str


def environment_of(config: Config, batch: AlertBatch) -> Mapped:
    for alert in batch.alerts:
        found = (
            _by_resource(config, alert) or _by_matchers(config, alert) or _by_label(config, alert)
        )
        if found is not None:
            return found
    return Mapped(None, _unmapped_reason(config, batch))


def resource_ids(env: Environment) -> tuple[str, ...]:
    """The environment's own Azure resources (lower case), then its configured extra ones."""
    az = env.azure
    group = f"/subscriptions/{az.subscription}/resourcegroups/{az.resource_group}/providers"
    own: list[str] = []
    if az.app:
        own.append(f"{group}/microsoft.web/sites/{az.app}")
    own += [f"{group}/microsoft.web/sites/{name}" for name in az.apps.values()]
    if az.traffic_manager:
        own.append(f"{group}/microsoft.network/trafficmanagerprofiles/{az.traffic_manager}")
    return tuple(r.lower().rstrip("/") for r in (*own, *env.incidents.resources))


def _by_resource(config: Config, alert: Alert) -> Mapped | None:
    for target in alert.resource_ids:
        for env in config.environments.values():
            for known in resource_ids(env):
                if target == known or target.startswith(known + "/"):
                    return Mapped(env.name, f"resource {target.rsplit('/', 1)[-1]}")
    return None


def _by_matchers(config: Config, alert: Alert) -> Mapped | None:
    for env in config.environments.values():
        for matcher in env.incidents.match:
            if matcher and all(alert.labels.get(k) == v for k, v in matcher.items()):
                shown = ", ".join(f"{k}={v}" for k, v in matcher.items())
                return Mapped(env.name, f"labels {shown}")
    return None


def _by_label(config: Config, alert: Alert) -> Mapped | None:
    for name in config.incidents.environment_labels:
        value = alert.labels.get(name)
        if value and (env := config.environment(value)) is not None:
            return Mapped(env.name, f"label {name}={value}")
    return None


def _unmapped_reason(config: Config, batch: AlertBatch) -> str:
    resources = sorted({r for a in batch.alerts for r in a.resource_ids})
    if resources:
        return f"no environment owns {resources[0].rsplit('/', 1)[-1]}"
    named = [
        f"{n}={v}"
        for n in config.incidents.environment_labels
        for a in batch.alerts
        if (v := a.labels.get(n))
    ]
    if named:
        return f"no environment is called {named[0].split('=', 1)[1]!r} ({named[0]})"
    return "no label or resource of this alert names an environment"
