"""Deployments: idempotent creation, step-by-step persistence, the queries jobs need."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storage import TERMINAL_STATES, Deployment, InvalidValueError, NotFoundError, Step, Store

START = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock(clock: Any) -> Any:
    """The shared clock, standing still between explicit advances: exact times below."""
    clock.tick = timedelta(0)
    return clock


async def _create(store: Store, **overrides: Any) -> Deployment:
    fields: dict[str, Any] = {
        "kind": "deploy",
        "environment": "prod",
        "version": "v1.2.0",
        "strategy": "bluegreen",
        "requested_by": "U_ALICE",
    }
    return await store.deployments.create(**{**fields, **overrides})


async def test_create_and_get_round_trip_every_field(store: Store) -> None:
    created = await _create(
        store,
        from_version="v1.1.0",
        reason="weekly release",
        state="pending_approval",
        steps=["deploy_green", Step("health_check"), {"name": "switch", "status": "pending"}],
        flags={"dry_run": False, "force": True},
        context={"green": {"app": "virtualqueue-production-green"}, "weights": (1, 1000)},
        approvals_required=2,
        idempotency_key="slack:trigger:123",
        card_channel="C_DEPLOYS",
        card_ts="1700000000.000100",
        expires_at=START + timedelta(minutes=30),
    )
    fetched = await store.deployments.get(created.id)
    assert fetched == created
    assert created.id == "id-0001"
    assert created.created_at == created.updated_at == START
    assert created.created_at.tzinfo is UTC
    assert [step.name for step in created.steps] == ["deploy_green", "health_check", "switch"]
    assert created.context == {
        "green": {"app": "virtualqueue-production-green"},
        "weights": [1, 1000],
    }
    assert created.expires_at == START + timedelta(minutes=30)
    assert not created.is_terminal
    assert await store.deployments.get("missing") is None


async def test_an_idempotency_key_never_creates_two_rows(store: Store) -> None:
    first, created = await store.deployments.create_once(
        kind="deploy", environment="prod", version="v1", strategy="bluegreen",
        requested_by="U_ALICE", idempotency_key="retry-me",
    )  # fmt: skip
    again, created_again = await store.deployments.create_once(
        kind="deploy", environment="prod", version="v1", strategy="bluegreen",
        requested_by="U_ALICE", idempotency_key="retry-me",
    )  # fmt: skip
    assert (created, created_again) == (True, False)
    assert again == first
    assert (await _create(store, idempotency_key="retry-me")).id == first.id
    assert await store.deployments.get_by_idempotency_key("retry-me") == first
    assert len(await store.deployments.latest("prod")) == 1


async def test_concurrent_retries_across_two_handles_create_one_row(
    store: Store, db_url: str
) -> None:
    async with Store.open(db_url) as other:
        handles = (store, other)
        results = await asyncio.gather(
            *(_create(handles[i % 2], idempotency_key="slack-retry") for i in range(20))
        )
    assert len({deployment.id for deployment in results}) == 1
    assert len(await store.deployments.latest("prod", limit=50)) == 1


ON_ITS_WAY = ("pending_approval", "queued", "running")


async def _request(
    store: Store, version: str = "v1.2.0", **overrides: Any
) -> tuple[Deployment, bool]:
    fields: dict[str, Any] = {
        "kind": "deploy", "environment": "prod", "version": version, "strategy": "bluegreen",
        "requested_by": "U_ALICE", "state": "queued", "unless_in": ON_ITS_WAY,
    }  # fmt: skip
    return await store.deployments.create_once(**{**fields, **overrides})


async def test_concurrent_requests_for_a_version_on_its_way_over_two_handles_store_one(
    store: Store, db_url: str
) -> None:
    """Fifty requests for one version over two handles (replicas), each with its own Slack
    key: one row, and every request is answered with it."""
    async with Store.open(db_url) as other:
        handles = (store, other)
        results = await asyncio.gather(
            *(_request(handles[i % 2], idempotency_key=f"cmd-{i}") for i in range(50))
        )
    assert len({d.id for d, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert len(await store.deployments.latest("prod", limit=100)) == 1


async def test_a_request_on_its_way_is_matched_by_environment_kind_version_and_state(
    store: Store,
) -> None:
    first, _ = await _request(store)
    assert (await _request(store))[0].id == first.id
    others = [
        await _request(store, version="v1.3.0"),
        await _request(store, environment="staging"),
        await _request(store, kind="canary"),
    ]
    assert all(created for _, created in others)
    assert len({d.id for d, _ in others} | {first.id}) == 4
    await store.deployments.update(first.id, state="succeeded")
    again, created = await _request(store)  # the earlier one has arrived: ask again
    assert created and again.id != first.id
    assert (await _request(store, unless_in=()))[1], "without unless_in nothing is matched"


async def test_update_persists_fields_and_stamps_times(store: Store, clock: Any) -> None:
    created = await _create(store, state="running")
    clock.advance(minutes=3)
    updated = await store.deployments.update(
        created.id, context={"swap": "started"}, card_ts="1.2", error=None
    )
    assert updated.context == {"swap": "started"}
    assert updated.updated_at == START + timedelta(minutes=3)
    assert updated.finished_at is None
    clock.advance(minutes=1)
    failed = await store.deployments.update(
        created.id, state="failed", error={"code": "Conflict", "message": "slot busy"}
    )
    assert failed.finished_at == START + timedelta(minutes=4)
    assert failed.is_terminal
    assert failed.error == {"code": "Conflict", "message": "slot busy"}
    assert await store.deployments.get(created.id) == failed


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"version": "v9"}, InvalidValueError, "cannot update version"),
        ({"state": ""}, InvalidValueError, "state must be a non-empty string"),
        ({"flags": ["not", "a", "mapping"]}, InvalidValueError, "flags must be a mapping"),
        ({"context": {"when": object()}}, InvalidValueError, "context must be JSON-serializable"),
        ({"approvals_required": -1}, InvalidValueError, "approvals_required must be"),
        ({"expires_at": datetime(2026, 1, 1)}, InvalidValueError, "timezone-aware"),
        ({"steps": "deploy"}, InvalidValueError, "steps must be a list"),
        ({"steps": [{"status": "done"}]}, InvalidValueError, "has no name"),
        ({"steps": ["a", "a"]}, InvalidValueError, "step names must be unique"),
    ],
)
async def test_bad_updates_are_refused_and_change_nothing(
    store: Store, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    created = await _create(store)
    with pytest.raises(error, match=message):
        await store.deployments.update(created.id, **fields)
    assert await store.deployments.get(created.id) == created


async def test_update_of_an_unknown_deployment_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no deployment 'ghost'"):
        await store.deployments.update("ghost", state="failed")
    with pytest.raises(NotFoundError):
        await store.deployments.set_step("ghost", "deploy", "running")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "yolo"}, "kind must be deploy, rollback or canary"),
        ({"environment": ""}, "environment must be"),
        ({"version": None}, "version must be"),
        ({"flags": {"x": float("inf")}}, "flags must be JSON-serializable"),
        ({"approvals_required": True}, "approvals_required must be"),
        ({"steps": [42]}, "a step must be a name"),
    ],
)
async def test_bad_creates_are_refused(
    store: Store, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await _create(store, **overrides)
    assert await store.deployments.latest("prod") == []


async def test_set_step_records_progress_step_by_step(store: Store, clock: Any) -> None:
    created = await _create(store, steps=["deploy_green", "health_check"], state="running")
    clock.advance(seconds=10)
    running = await store.deployments.set_step(created.id, "deploy_green", "running")
    assert running.current_step == "deploy_green"
    step = running.step("deploy_green")
    assert step is not None
    assert step.started_at == START + timedelta(seconds=10)
    clock.advance(seconds=50)
    done = await store.deployments.set_step(created.id, "deploy_green", "done", "v1.2.0 on green")
    step = done.step("deploy_green")
    assert step == Step(
        "deploy_green",
        "done",
        "v1.2.0 on green",
        START + timedelta(seconds=10),
        START + timedelta(minutes=1),
    )
    added = await store.deployments.set_step(created.id, "watch", "running")
    assert [s.name for s in added.steps] == ["deploy_green", "health_check", "watch"]
    assert added.current_step == "watch"
    with pytest.raises(InvalidValueError, match="step status must be one of"):
        await store.deployments.set_step(created.id, "watch", "ok")  # type: ignore[arg-type]


async def test_transition_lets_exactly_one_racing_decision_win(store: Store, db_url: str) -> None:
    created = await _create(store, state="pending_approval")
    async with Store.open(db_url) as other:
        pending = {"pending_approval"}
        outcomes = await asyncio.gather(
            store.deployments.transition(created.id, from_states=pending, to_state="approved"),
            other.deployments.transition(created.id, from_states=pending, to_state="expired"),
            store.deployments.transition(created.id, from_states="pending_approval", to_state="x"),
        )
    winners = [outcome for outcome in outcomes if outcome is not None]
    assert len(winners) == 1
    assert (await store.deployments.get(created.id)) == winners[0]


async def test_unfinished_lists_non_terminal_deployments_oldest_first(
    store: Store, clock: Any
) -> None:
    states = ["running", "succeeded", "pending_approval", "rolled_back", "paused", "cancelled"]
    ids = []
    for state in states:
        clock.advance(minutes=1)
        ids.append((await _create(store, state=state)).id)
    unfinished = await store.deployments.unfinished()
    assert [d.state for d in unfinished] == ["running", "pending_approval", "paused"]
    assert {
        "succeeded",
        "failed",
        "rolled_back",
        "rejected",
        "expired",
        "cancelled",
    } == TERMINAL_STATES


async def test_stale_cards_are_finished_deployments_whose_card_shows_another_state(
    store: Store, clock: Any
) -> None:
    since = clock.now
    shown = await _create(store, state="running", card_channel="C1", card_ts="1.1")
    left_behind = await _create(store, state="running", card_channel="C1", card_ts="1.2")
    no_card = await _create(store, state="running")
    still_running = await _create(store, state="running", card_channel="C1", card_ts="1.3")
    for d in (shown, left_behind, no_card):
        await store.deployments.update(d.id, state="succeeded")
    await store.deployments.card_shown(shown.id, "succeeded")
    stale = await store.deployments.stale_cards(since)
    assert [d.id for d in stale] == [left_behind.id]
    assert still_running.id not in {d.id for d in stale}
    await store.deployments.card_shown(left_behind.id, "succeeded")
    assert await store.deployments.stale_cards(since) == []
    clock.advance(days=1)
    await store.deployments.update(left_behind.id, card_state="watching")
    assert await store.deployments.stale_cards(clock.now) == []  # older than asked for


async def test_latest_and_last_successful(store: Store, clock: Any) -> None:
    plan = [
        ("prod", "v1.0.0", "succeeded", {}),
        ("prod", "v1.1.0", "succeeded", {}),
        ("staging", "v1.5.0", "succeeded", {}),
        ("prod", "v1.2.0", "failed", {}),
        ("prod", "v1.3.0", "succeeded", {"dry_run": True}),
        ("prod", "v1.1.0", "succeeded", {}),  # a re-deploy of v1.1.0
        ("prod", "v1.4.0", "succeeded", {}),
    ]
    made = []
    for environment, version, state, flags in plan:
        clock.advance(minutes=5)
        made.append(
            await _create(store, environment=environment, version=version, state=state, flags=flags)
        )
    latest = await store.deployments.latest("prod", limit=3)
    assert [d.version for d in latest] == ["v1.4.0", "v1.1.0", "v1.3.0"]
    failed_only = await store.deployments.latest("prod", states={"failed"})
    assert [d.version for d in failed_only] == ["v1.2.0"]

    live = await store.deployments.last_successful("prod")
    assert live is not None
    assert live.id == made[6].id
    before_live = await store.deployments.last_successful("prod", before_id=live.id)
    assert before_live is not None
    assert before_live.id == made[5].id
    different = await store.deployments.last_successful(
        "prod", before_id=made[5].id, other_than_version="v1.1.0"
    )
    assert different is not None
    assert different.version == "v1.0.0"
    assert await store.deployments.last_successful("dev") is None
    with pytest.raises(NotFoundError):
        await store.deployments.last_successful("prod", before_id="ghost")
    with pytest.raises(InvalidValueError, match="limit must be"):
        await store.deployments.latest("prod", limit=0)


async def test_has_succeeded_counts_only_a_real_deploy_that_succeeded(
    store: Store, clock: Any
) -> None:
    """What a promotion order asks of staging: a deploy or canary of exactly that version
    that succeeded there; not a failure, a dry run, a rollback to it or another environment."""
    plan: list[tuple[str, str, str, str, dict[str, Any]]] = [
        ("staging", "deploy", "v1.2.0", "failed", {}),
        ("staging", "deploy", "v1.3.0", "succeeded", {"dry_run": True}),
        ("staging", "rollback", "v1.4.0", "succeeded", {}),
        ("prod", "deploy", "v1.5.0", "succeeded", {}),
        ("staging", "canary", "v1.6.0", "succeeded", {}),
        ("staging", "deploy", "v1.7.0", "succeeded", {}),
    ]
    for environment, kind, version, state, flags in plan:
        clock.advance(minutes=1)
        await _create(
            store, environment=environment, kind=kind, version=version, state=state, flags=flags
        )
    found = {
        version: await store.deployments.has_succeeded("staging", version)
        for version in ("v1.2.0", "v1.3.0", "v1.4.0", "v1.5.0", "v1.6.0", "v1.7.0", "v9")
    }
    assert found == {
        "v1.2.0": False,
        "v1.3.0": False,
        "v1.4.0": False,
        "v1.5.0": False,
        "v1.6.0": True,
        "v1.7.0": True,
        "v9": False,
    }
    with pytest.raises(InvalidValueError):
        await store.deployments.has_succeeded("staging", "")
