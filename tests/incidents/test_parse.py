"""Every alert payload in tests/fixtures/alerts, parsed and mapped onto the reference system."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from commands.config import Config
from commands.incidents.alerts import MalformedAlert
from commands.incidents.mapping import environment_of
from commands.incidents.parse import parse_body

from .conftest import payload, raw


def test_alertmanager_captured_firing(config: Config) -> None:
    batch = parse_body("alertmanager", raw("alertmanager-firing.json"))
    assert batch.group_key == '{}:{alertname="Http5xxRateHigh", service="checkout"}'
    assert batch.title == "5xx rate above 5% on checkout"
    (alert,) = batch.alerts
    assert alert.fingerprint == "5ba4d183fc81577e"
    assert alert.status == "firing" and alert.ends_at is None and alert.severity == "critical"
    assert alert.starts_at == datetime(2026, 11, 21, 20, 27, 6, 309495, tzinfo=UTC)
    assert alert.links["generatorURL"].endswith("&g0.tab=1")
    assert alert.links["runbook"] == "https://runbooks.example.internal/checkout/5xx"
    mapped = environment_of(config, batch)
    assert (mapped.environment, mapped.why) == ("prod", "label env=prod")


def test_alertmanager_captured_resolved_lists_the_whole_group(config: Config) -> None:
    batch = parse_body("alertmanager", raw("alertmanager-resolved.json"))
    assert [a.fingerprint for a in batch.alerts] == ["5ba4d183fc81577e", "183f54cf5e4449bd"]
    assert {a.status for a in batch.alerts} == {"resolved"}
    assert all(a.ends_at is not None for a in batch.alerts)
    assert environment_of(config, batch).environment == "prod"


def test_alertmanager_oncall_example_is_unmapped_with_a_reason(config: Config) -> None:
    batch = parse_body("alertmanager", raw("alertmanager-firing.grafana-oncall-example.json"))
    assert len(batch.alerts) == 2 and batch.severity == "critical"
    assert batch.alerts[0].summary == "Instance localhost:8081 down"
    mapped = environment_of(config, batch)
    assert mapped.environment is None
    assert mapped.why == "no label or resource of this alert names an environment"


def test_alertmanager_ignores_newer_top_level_keys() -> None:
    body = payload("alertmanager-firing.json")
    body |= {"notification_reason": "new", "routeLabels": {"a": "b"}}
    assert parse_body("alertmanager", _bytes(body)).alerts[0].fingerprint == "5ba4d183fc81577e"


def test_grafana_example(config: Config) -> None:
    batch = parse_body("grafana", raw("grafana-webhook-firing.json"))
    assert batch.source == "grafana" and batch.group_key == "{}:{}"
    first = batch.alerts[0]
    assert first.values == {"B": "44.24", "C": "1"}
    assert first.links["silenceURL"].startswith("https://play.grafana.org/alerting/silence/")
    assert first.summary == "This alert was triggered for zone us-1"
    assert environment_of(config, batch).environment is None


def test_grafana_alert_with_an_environment_label_maps(config: Config) -> None:
    body = payload("grafana-webhook-firing.json")
    body["alerts"][0]["labels"]["environment"] = "production"
    mapped = environment_of(config, parse_body("grafana", _bytes(body)))
    assert (mapped.environment, mapped.why) == ("prod", "label environment=production")


def test_azure_common_schema_resolved_vm_alert(config: Config) -> None:
    batch = parse_body("azure-monitor", raw("azure-monitor-metric-resolved.json"))
    (alert,) = batch.alerts
    assert alert.status == "resolved" and alert.severity == "info"  # Sev3
    assert batch.group_key.startswith("3f2d4487-")  # originAlertId groups re-fires
    assert alert.values == {"Percentage CPU": "7.727 (GreaterThan 25)"}
    mapped = environment_of(config, batch)
    assert mapped.environment is None and mapped.why == "no environment owns wcus-r2-gen2"


def test_azure_http5xx_on_a_site_maps_by_resource_id(config: Config) -> None:
    batch = parse_body("azure-monitor", raw("azure-monitor-http5xx-fired.synthesized.json"))
    (alert,) = batch.alerts
    assert alert.status == "firing" and alert.severity == "high"  # Sev1
    assert alert.values == {"Http5xx": "57 (GreaterThan 10)"}
    mapped = environment_of(config, batch)
    assert (mapped.environment, mapped.why) == ("prod", "resource virtualqueue-production-blue")


def test_azure_slot_maps_to_its_sites_environment(config: Config) -> None:
    body = payload("azure-monitor-http5xx-fired.synthesized.json")
    sub = "8f2c1a3e-5b7d-4c9e-a1f0-3d6b2e4c8a17"
    body["data"]["essentials"]["alertTargetIDs"] = [
        f"/subscriptions/{sub}/resourceGroups/rg-virtualqueue-staging/providers/"
        "Microsoft.Web/sites/virtualqueue-staging/slots/green"
    ]
    assert environment_of(config, parse_body("azure-monitor", _bytes(body))).environment == (
        "staging"
    )


def test_azure_older_metric_schema_and_classic(config: Config) -> None:
    sub = "8f2c1a3e-5b7d-4c9e-a1f0-3d6b2e4c8a17"
    site = (
        f"/subscriptions/{sub}/resourceGroups/rg-virtualqueue-dev/providers/"
        "Microsoft.Web/sites/virtualqueue-dev"
    )
    context = {
        "timestamp": "2026-11-21T20:00:00.000Z",
        "id": "/subscriptions/x/rules/dev5xx",
        "name": "dev5xx",
        "severity": "1",
        "condition": {"allOf": [{"metricName": "Http5xx", "metricValue": 12, "threshold": "5"}]},
        "resourceId": site,
        "portalLink": "https://portal.azure.com/#resource" + site,
    }
    newer = {
        "schemaId": "AzureMonitorMetricAlert",
        "data": {"status": "Activated", "context": context},
    }
    classic = {"status": "Resolved", "context": context}
    for body, status in ((newer, "firing"), (classic, "resolved")):
        batch = parse_body("azure-monitor", _bytes(body))
        assert batch.alerts[0].status == status and batch.alerts[0].severity == "high"
        assert environment_of(config, batch).environment == "dev"


def test_matchers_map_by_labels(config: Config) -> None:
    body = payload("alertmanager-firing.json")
    labels = body["alerts"][0]["labels"]
    labels.pop("env")
    labels["service"] = "virtualqueue"
    labels["env"] = "production"
    mapped = environment_of(config, parse_body("alertmanager", _bytes(body)))
    assert (mapped.environment, mapped.why) == (
        "prod",
        "labels service=virtualqueue, env=production",
    )


@pytest.mark.parametrize(
    ("source", "change", "reason"),
    [
        ("alertmanager", lambda b: b.update(version="3"), 'version must be "4"'),
        ("alertmanager", lambda b: b.update(alerts=[]), "alerts must not be empty"),
        ("alertmanager", lambda b: b.pop("groupKey"), "body.groupKey must be a string"),
        ("alertmanager", lambda b: b["alerts"][0].update(status="weird"), "alerts[0].status"),
        ("alertmanager", lambda b: b["alerts"][0].update(startsAt="yesterday"), "startsAt"),
        ("alertmanager", lambda b: b["alerts"][0]["labels"].update(x=1), "labels.x"),
        ("grafana", lambda b: b.update(alerts={}), "alerts must be a list"),
        ("azure-monitor", lambda b: b.update(schemaId="other"), "schemaId must be"),
    ],
)
def test_malformed_bodies_name_the_field(source: str, change: object, reason: str) -> None:
    name = {
        "alertmanager": "alertmanager-firing.json",
        "grafana": "grafana-webhook-firing.json",
        "azure-monitor": "azure-monitor-metric-resolved.json",
    }[source]
    body = copy.deepcopy(payload(name))
    change(body)  # type: ignore[operator]
    with pytest.raises(MalformedAlert, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_body(source, _bytes(body))  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\xff\xfe", b"null", b'"x"'])
def test_not_json_objects(body: bytes) -> None:
    with pytest.raises(MalformedAlert):
        parse_body("alertmanager", body)


def _bytes(body: object) -> bytes:
    import json

    return json.dumps(body).encode()
