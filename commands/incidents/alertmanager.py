"""Prometheus Alertmanager's webhook (``version: "4"``); unknown keys are ignored."""

from __future__ import annotations

import hashlib
from typing import Any

from commands.incidents.alerts import Alert, AlertBatch, MalformedAlert
from commands.incidents.fields import (
    items,
    numbers,
    obj,
    optional_text,
    required_time,
    strings,
    text,
)
from commands.incidents.fields import timestamp as read_time
from commands.incidents.severity import from_labels

LINKS = ("generatorURL", "silenceURL", "dashboardURL", "panelURL")


def parse(data: Any) -> AlertBatch:
    body = obj(data, "body")
    if body.get("version") != "4":
        raise MalformedAlert('version must be "4" (an Alertmanager webhook)')
    return AlertBatch(
        source="alertmanager",
        group_key=text(body, "groupKey", "body"),
        title=group_title(body),
        alerts=alerts(body, "alertmanager"),
    )


def alerts(body: dict[str, Any], source: str) -> tuple[Alert, ...]:
    """The ``alerts`` list; Grafana's shape is Alertmanager's plus a few fields."""
    found = items(body.get("alerts"), "alerts")
    if not found:
        raise MalformedAlert("alerts must not be empty")
    return tuple(alert(entry, f"alerts[{i}]") for i, entry in enumerate(found))


def alert(data: Any, where: str) -> Alert:
    entry = obj(data, where)
    status = entry.get("status")
    if status not in ("firing", "resolved"):
        raise MalformedAlert(f'{where}.status must be "firing" or "resolved"')
    labels = strings(entry.get("labels"), f"{where}.labels")
    annotations = strings(entry.get("annotations"), f"{where}.annotations")
    fingerprint = optional_text(entry, "fingerprint", where) or label_hash(labels)
    links = {k: v for k in LINKS if (v := optional_text(entry, k, where))}
    if runbook := annotations.get("runbook_url"):
        links["runbook"] = runbook
    name = labels.get("alertname", "alert")
    summary = annotations.get("summary") or annotations.get("title") or name
    return Alert(
        fingerprint=fingerprint,
        status=status,
        starts_at=required_time(entry.get("startsAt"), f"{where}.startsAt"),
        ends_at=read_time(entry.get("endsAt", ""), f"{where}.endsAt"),
        name=name,
        summary=summary,
        severity=from_labels(labels),
        labels=labels,
        values=numbers(entry.get("values"), f"{where}.values"),
        links=links,
    )


def group_title(body: dict[str, Any]) -> str:
    labels = strings(body.get("commonLabels"), "commonLabels")
    annotations = strings(body.get("commonAnnotations"), "commonAnnotations")
    return annotations.get("summary") or labels.get("alertname") or "alerts"


def label_hash(labels: dict[str, str]) -> str:
    """A fingerprint when a sender gave none: stable for the same label set."""
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
