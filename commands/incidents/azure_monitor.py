"""Azure Monitor action-group webhooks: the common alert schema (metric, log and the rest),
and the older metric, classic and log-search shapes for teams that have not switched."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from commands.incidents.alerts import Alert, AlertBatch, MalformedAlert, Severity
from commands.incidents.fields import (
    items,
    number_text,
    obj,
    optional_text,
    required_time,
    text,
    timestamp,
)
from commands.incidents.severity import severity_of

COMMON = "azureMonitorCommonAlertSchema"
METRIC_V2 = "AzureMonitorMetricAlert"
LINK_KEYS = (
    "linkToSearchResultsUI",
    "linkToFilteredSearchResultsUI",
    "linkToSearchResultsAPI",
    "linkToFilteredSearchResultsAPI",
    "portalLink",
)


def parse(data: Any) -> AlertBatch:
    body = obj(data, "body")
    schema = body.get("schemaId")
    if schema == COMMON:
        return _common(obj(body.get("data"), "data"))
    if schema == METRIC_V2:
        data_ = obj(body.get("data"), "data")
        return _context(obj(data_.get("context"), "data.context"), data_.get("status"))
    if schema is None and isinstance(body.get("context"), dict):
        return _context(obj(body["context"], "context"), body.get("status"))
    if isinstance(body.get("data"), dict) and "AlertRuleName" in body["data"]:
        return _log_v1(body["data"])
    raise MalformedAlert(
        f"schemaId must be {COMMON!r} or {METRIC_V2!r} (or a classic alert with context)"
    )


def _common(data: dict[str, Any]) -> AlertBatch:
    essentials = obj(data.get("essentials"), "data.essentials")
    where = "data.essentials"
    alert_id = text(essentials, "alertId", where)
    condition = essentials.get("monitorCondition")
    if condition not in ("Fired", "Resolved"):
        raise MalformedAlert(f'{where}.monitorCondition must be "Fired" or "Resolved"')
    targets = tuple(
        _target(t, f"{where}.alertTargetIDs[{i}]")
        for i, t in enumerate(
            items(essentials.get("alertTargetIDs", []), f"{where}.alertTargetIDs")
        )
    )
    fired = required_time(essentials.get("firedDateTime"), f"{where}.firedDateTime")
    resolved: datetime | None = None
    if condition == "Resolved" and essentials.get("resolvedDateTime") is not None:
        resolved = timestamp(essentials["resolvedDateTime"], f"{where}.resolvedDateTime")
    rule = text(essentials, "alertRule", where, default="Azure Monitor alert")
    context = data.get("alertContext")
    values, links = _context_details(context if isinstance(context, dict) else {})
    if rule_id := optional_text(essentials, "alertRuleId", where):
        links["rule"] = rule_id
    description = optional_text(essentials, "description", where)
    signal = optional_text(essentials, "signalType", where)
    alert = Alert(
        fingerprint=alert_id,
        status="firing" if condition == "Fired" else "resolved",
        starts_at=fired,
        ends_at=resolved,
        name=rule,
        summary=description or (f"{rule} ({signal})" if signal else rule),
        severity=_sev(essentials.get("severity")),
        labels={
            "alertRule": rule,
            "signalType": signal,
            "severity": str(essentials.get("severity")),
        },
        values=values,
        links=links,
        resource_ids=targets,
    )
    group = optional_text(essentials, "originAlertId", where) or alert_id
    return AlertBatch("azure-monitor", group, rule, (alert,))


def _context(context: dict[str, Any], status: Any) -> AlertBatch:
    """The older metric-alert schema (``data.context``) and classic alerts (``context``)."""
    where = "context"
    if status not in ("Activated", "Resolved", "Deactivated"):
        raise MalformedAlert('status must be "Activated", "Resolved" or "Deactivated"')
    alert_id = text(context, "id", where)
    name = text(context, "name", where, default="Azure Monitor alert")
    resource = optional_text(context, "resourceId", where)
    values, links = _context_details({"condition": context.get("condition")})
    if portal := optional_text(context, "portalLink", where):
        links["portal"] = portal
    at = required_time(context.get("timestamp"), f"{where}.timestamp")
    alert = Alert(
        fingerprint=alert_id,
        status="firing" if status == "Activated" else "resolved",
        starts_at=at,
        ends_at=None if status == "Activated" else at,
        name=name,
        summary=optional_text(context, "description", where) or name,
        severity=_sev(context.get("severity"), numeric=True),
        labels={"alertRule": name},
        values=values,
        links=links,
        resource_ids=(resource.lower(),) if resource else (),
    )
    return AlertBatch("azure-monitor", alert_id, name, (alert,))


def _log_v1(data: dict[str, Any]) -> AlertBatch:
    where = "data"
    name = text(data, "AlertRuleName", where)
    resource = optional_text(data, "ResourceId", where) or optional_text(data, "WorkspaceId", where)
    links = {k: v for k in LINK_KEYS if (v := optional_text(data, k, where))}
    alert = Alert(
        fingerprint=name,
        status="firing",
        starts_at=required_time(
            data.get("SearchIntervalEndtimeUtc"), f"{where}.SearchIntervalEndtimeUtc"
        ),
        name=name,
        summary=optional_text(data, "Description", where) or name,
        severity=_sev(data.get("Severity"), numeric=True),
        labels={"alertRule": name},
        values={"results": optional_text(data, "ResultCount", where)},
        links=links,
        resource_ids=(resource.lower(),) if resource.startswith("/") else (),
    )
    return AlertBatch("azure-monitor", name, name, (alert,))


def _context_details(context: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    values: dict[str, str] = {}
    links = {k: v for k in LINK_KEYS if isinstance(v := context.get(k), str) and v}
    condition = context.get("condition")
    if isinstance(condition, dict) and isinstance(condition.get("allOf"), list):
        for criterion in condition["allOf"][:20]:
            if not isinstance(criterion, dict):
                continue
            metric = criterion.get("metricName") or criterion.get("searchQuery")
            value = criterion.get("metricValue")
            if isinstance(metric, str) and isinstance(value, int | float | str):
                if isinstance(value, bool):
                    continue
                limit = criterion.get("threshold")
                shown = number_text(value)
                if isinstance(limit, str | int | float) and not isinstance(limit, bool):
                    op = criterion.get("operator")
                    shown += f" ({op} {limit})" if isinstance(op, str) else f" (limit {limit})"
                values[metric[:200]] = shown
            for key in LINK_KEYS:
                if isinstance(link := criterion.get(key), str) and link:
                    links[key] = link
    return values, links


def _target(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise MalformedAlert(f"{where} must be an Azure resource ID")
    return value.lower()[:1000]


def _sev(value: Any, *, numeric: bool = False) -> Severity:
    if numeric and isinstance(value, int | str) and str(value).strip().isdigit():
        value = f"sev{int(str(value))}"
    return severity_of(value)
