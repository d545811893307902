"""Grafana alerting's webhook (``version: "1"``): Alertmanager's shape plus ``values`` and links."""

from __future__ import annotations

from typing import Any

from commands.incidents.alertmanager import alerts, group_title
from commands.incidents.alerts import AlertBatch, MalformedAlert
from commands.incidents.fields import obj, optional_text, text


def parse(data: Any) -> AlertBatch:
    body = obj(data, "body")
    if body.get("version") not in ("1", None):
        raise MalformedAlert('version must be "1" (a Grafana webhook)')
    title = group_title(body)
    if title == "alerts":
        title = optional_text(body, "title", "body") or title
    return AlertBatch(
        source="grafana",
        group_key=text(body, "groupKey", "body"),
        title=title,
        alerts=alerts(body, "grafana"),
    )
