"""The real Bolt app over HTTP, driven by signed requests from the workspace emulator."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from slack_bolt.async_app import AsyncApp

from bot.httpserver import running
from bot.readiness import Readiness
from bot.slackemu import SendOptions
from bot.web import create_web

from .conftest import SIGNING_SECRET, Edge


async def test_signed_help_answers_fast(edge: Edge) -> None:
    delivery = await edge.emu.user("U0ALICE").command("/deploy help", channel="#deploys")
    assert delivery.status == 200
    assert delivery.elapsed < 3.0
    answer = await edge.ws.wait_for_ephemeral("U0ALICE", "ships versions to Azure")
    assert "/rollback &lt;env&gt;" in answer.text
    assert "prod (production)" in answer.text


async def test_bad_signature_is_refused_and_nothing_runs(edge: Edge) -> None:
    alice = edge.emu.user("U0ALICE")
    delivery = await alice.command(
        "/deploy help", channel="#deploys", options=SendOptions(bad_signature=True)
    )
    assert delivery.status == 401
    unsigned = await alice.command(
        "/deploy help", channel="#deploys", options=SendOptions(unsigned=True)
    )
    assert unsigned.status == 401
    await edge.services.idle()
    assert not edge.ws.ephemerals(user="U0ALICE") or all(
        "ships versions" not in e.text for e in edge.ws.ephemerals(user="U0ALICE")
    )
    assert await edge.services.store.audit.query(actions=["command.received"]) == []


async def test_stale_timestamp_is_refused(edge: Edge) -> None:
    import time

    stale = SendOptions(timestamp=int(time.time()) - 6 * 60)
    delivery = await edge.emu.user("U0ALICE").command(
        "/deploy help", channel="#deploys", options=stale
    )
    assert delivery.status == 401


async def test_status_lists_every_configured_environment(edge: Edge) -> None:
    await edge.emu.user("U0DAVE").command("/deploy status", channel="#deploys")
    answer = await edge.ws.wait_for_ephemeral("U0DAVE", "Environments")
    for name in ("dev", "staging", "prod"):
        assert f"{name}  live" in answer.text or f"*{name}*" in answer.text
    assert "2 approval(s) needed" in answer.text


async def test_nonsense_gets_usage_never_a_500(edge: Edge) -> None:
    alice = edge.emu.user("U0ALICE")
    for text in (
        "prd v1.2.0",
        "prod",
        "%%% ☃ \x00",
        'prod v1 --reason "x',
        "lock",
        "history --limit x",
    ):
        delivery = await alice.command("/deploy", text, channel="#deploys")
        assert delivery.status == 200, text
    await edge.services.idle()
    usage = edge.ws.ephemerals(user="U0ALICE")
    assert len(usage) == 6
    assert all("I didn't understand" in e.text and "/deploy" in e.text for e in usage)
    refusals = await edge.services.store.audit.query(actions=["command.refused"])
    assert len(refusals) == 6


async def test_channel_mention_in_a_version_is_posted_escaped(edge: Edge) -> None:
    await edge.emu.user("U0ALICE").command("/deploy", "prod <!channel>", channel="#deploys")
    answer = await edge.ws.wait_for_ephemeral("U0ALICE", "not a version")
    posted = edge.ws.response_posts[-1].payload
    assert "<!channel>" not in str(posted)
    assert "&lt;!channel&gt;" in answer.text


async def test_a_deploy_request_reaches_the_job_and_is_audited(edge: Edge) -> None:
    await edge.emu.user("U0ALICE").command(
        "/deploy", 'production v1.2.0 --dry-run --reason "ship it"', channel="#deploys"
    )
    answer = await edge.ws.wait_for_ephemeral("U0ALICE", "Dry run")
    assert "`v1.2.0` to prod" in answer.text
    received = await edge.services.store.audit.query(actions=["command.received"])
    assert received[0].details["text"] == 'production v1.2.0 --dry-run --reason "ship it"'
    [dry_run] = await edge.services.store.audit.query(actions=["deploy.dry_run"])
    assert dry_run.details["version"] == "v1.2.0"
    assert dry_run.environment == "prod"


async def test_lock_unlock_and_refusals(edge: Edge) -> None:
    alice, bob, dave = (edge.emu.user(u) for u in ("U0ALICE", "U0BOB", "U0DAVE"))
    await alice.command("/deploy lock prod db migration", channel="#deploys")
    assert (
        "prod is locked: db migration"
        in (await edge.ws.wait_for_ephemeral("U0ALICE", "locked")).text
    )
    await bob.command("/deploy lock prod", channel="#deploys")
    held = await edge.ws.wait_for_ephemeral("U0BOB", "already locked")
    assert "held by <@U0ALICE>" in held.text and "db migration" in held.text
    await dave.command("/deploy unlock prod", channel="#deploys")
    refused = await edge.ws.wait_for_ephemeral("U0DAVE", "Sorry")
    assert "you can't change prod" in refused.text and "<@U0BOB>" in refused.text
    await edge.emu.user("U0DAVE").command("/deploy status prod", channel="#deploys")
    status = await edge.ws.wait_for_ephemeral("U0DAVE", "Environments")
    assert "db migration" in status.text
    await bob.command("/deploy unlock prod", channel="#deploys")
    await edge.ws.wait_for_ephemeral("U0BOB", "unlocked")
    await edge.services.idle()
    actions = [e.action for e in await edge.services.store.audit.query(newest_first=False)]
    assert actions.count("lock.acquired") == 1
    assert actions.count("lock.refused") == 1
    assert actions.count("unlock.refused") == 1
    assert actions.count("lock.released") == 1
    assert (await edge.services.store.audit.verify()).ok


async def test_history_is_empty_before_any_deployment(edge: Edge) -> None:
    await edge.emu.user("U0ALICE").command("/deploy history prod", channel="#deploys")
    assert (
        "No deployments yet for prod"
        in (await edge.ws.wait_for_ephemeral("U0ALICE", "No deployments")).text
    )


async def test_healthz_and_metrics(edge: Edge) -> None:
    delivery = await edge.emu.user("U0ALICE").command("/deploy help", channel="#deploys")
    assert delivery.status == 200
    async with httpx.AsyncClient(base_url=edge.url) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}
        # Counted before the ack went out: nothing to wait for.
        metrics = (await http.get("/metrics")).text
        assert 'deploybot_slack_commands_total{command="/deploy"} 1.0' in metrics
        assert 'deploybot_slack_requests_total{outcome="ok"} 1.0' in metrics
        assert "deploybot_slack_ack_seconds_count 1.0" in metrics
        # The answer is worked out in a task after the ack: count it once that is done.
        await edge.services.idle()
        metrics = (await http.get("/metrics")).text
        assert 'deploybot_commands_total{command="/deploy",outcome="answered"} 1.0' in metrics


async def test_a_command_is_counted_before_its_ack_even_while_its_answer_waits(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    record = edge.services.desk.record

    async def held_record(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await record(*args, **kwargs)

    monkeypatch.setattr(edge.services.desk, "record", held_record)
    # A command that changes something is answered after its command.received row commits.
    delivery = await edge.emu.user("U0ALICE").command("/deploy unlock dev", channel="#deploys")
    assert delivery.status == 200
    async with httpx.AsyncClient(base_url=edge.url) as http:
        metrics = (await http.get("/metrics")).text
        assert 'deploybot_slack_commands_total{command="/deploy"} 1.0' in metrics
        assert 'outcome="answered"' not in metrics  # the answer is still held up
        release.set()
        await edge.services.idle()
        metrics = (await http.get("/metrics")).text
        assert 'deploybot_commands_total{command="/deploy",outcome="answered"} 1.0' in metrics


async def test_a_read_is_answered_before_its_audit_row_commits_and_the_row_is_written(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    record = edge.services.desk.record

    async def held_record(*args: Any, **kwargs: Any) -> Any:
        await release.wait()
        return await record(*args, **kwargs)

    monkeypatch.setattr(edge.services.desk, "record", held_record)
    await edge.emu.user("U0DAVE").command("/deploy help", channel="#deploys")
    await edge.emu.user("U0DAVE").command("/deploy status prod", channel="#deploys")
    await edge.ws.wait_for_ephemeral("U0DAVE", "ships versions to Azure")
    await edge.ws.wait_for_ephemeral("U0DAVE", "Environments")
    assert await edge.services.store.audit.query(actions=["command.received"]) == []
    release.set()
    await edge.services.idle()
    received = await edge.services.store.audit.query(
        actions=["command.received"], newest_first=False
    )
    assert sorted(r.details["text"] for r in received) == ["help", "status prod"]


async def test_metrics_exposition_follows_prometheus_naming(edge: Edge) -> None:
    await edge.emu.user("U0ALICE").command("/deploy help", channel="#deploys")
    async with httpx.AsyncClient(base_url=edge.url) as http:
        response = await http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    expected = {
        "deploybot_slack_requests": ("counter", {"outcome"}),
        "deploybot_slack_commands": ("counter", {"command"}),
        "deploybot_commands": ("counter", {"command", "outcome"}),
        "deploybot_slack_request_seconds": ("histogram", set()),
        "deploybot_slack_ack_seconds": ("histogram", set()),
        "deploybot_deployments": ("counter", {"environment", "strategy", "outcome"}),
        "deploybot_deployment_duration_seconds": ("histogram", {"environment", "outcome"}),
        "deploybot_rollbacks": ("counter", {"environment", "trigger"}),
        "deploybot_approval_wait_seconds": ("histogram", {"environment"}),
        "deploybot_azure_requests": ("counter", {"operation", "outcome"}),
        "deploybot_azure_request_seconds": ("histogram", {"operation"}),
        "deploybot_jobs_in_flight": ("gauge", set()),
    }
    for name, (kind, _) in expected.items():
        assert name in families, name
        assert families[name].type == kind, name
    for name in ("deploybot_slack_requests", "deploybot_slack_commands"):
        samples = [s for s in families[name].samples if s.name == f"{name}_total"]
        assert samples, name
        assert {frozenset(s.labels) for s in samples} == {frozenset(expected[name][1])}
    ack = families["deploybot_slack_ack_seconds"].samples
    assert {s.name for s in ack} >= {
        "deploybot_slack_ack_seconds_bucket",
        "deploybot_slack_ack_seconds_count",
        "deploybot_slack_ack_seconds_sum",
    }


async def test_readyz_names_what_is_missing_until_all_three_are_marked(edge: Edge) -> None:
    readiness = Readiness()
    services = dataclasses.replace(edge.services, readiness=readiness)
    bolt = AsyncApp(client=services.slack, signing_secret=SIGNING_SECRET)
    async with (
        running(create_web(bolt, services, SIGNING_SECRET)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        waiting = await http.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["missing"] == ["database", "slack", "azure"]
        assert (await http.get("/healthz")).status_code == 200  # liveness does not wait
        readiness.database_open()
        readiness.slack_authenticated()
        readiness.observe_azure_call("read site", "prod/green", "error", 0.1, "Throttled")
        still = await http.get("/readyz")
        assert still.status_code == 503
        assert still.json() == {
            "status": "waiting",
            "missing": ["azure"],
            "database": "ok",
            "slack": "ok",
            "azure": "waiting",
        }
        readiness.observe_azure_call("read site", "prod/green", "ok", 0.1, None)
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert ready.json()["missing"] == []


async def test_garbage_bodies_never_500(edge: Edge) -> None:
    async with httpx.AsyncClient(base_url=edge.url) as http:
        for body in (b"\xff\xfe\x00", b"payload=%7Bnot-json", b"", b"command=/deploy"):
            response = await http.post("/slack/events", content=body)
            assert response.status_code in (400, 401), body


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
async def test_any_text_gets_an_answer(edge: Edge, text: str) -> None:
    delivery = await edge.emu.user("U0ALICE").command("/deploy", text, channel="#deploys")
    assert delivery.status == 200


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        # The reference's promotion order holds for a canary too: staging first.
        ("/canary v1.2.0", "v1.2.0 has not succeeded on staging"),
        ("/rollback v1.0.0", "Roll *prod* back"),
    ],
)
async def test_other_commands_are_registered(edge: Edge, command: str, answer: str) -> None:
    name, version = command.split()
    await edge.emu.user("U0ALICE").command(name, f"prod {version}", channel="#deploys")
    assert answer in (await edge.ws.wait_for_ephemeral("U0ALICE", answer)).text


async def test_signed_but_malformed_interaction_is_a_400(edge: Edge) -> None:
    delivery = await edge.emu.user("U0ALICE").send_raw("payload=%7Bnot-json")
    assert delivery.status == 400


async def test_help_placeholders_are_escaped_not_links(edge: Edge) -> None:
    await edge.emu.user("U0ALICE").command("/deploy help", channel="#deploys")
    answer = await edge.ws.wait_for_ephemeral("U0ALICE", "ships versions")
    assert "&lt;env&gt;" in answer.text
    assert "<env>" not in answer.text
