"""Approvals: each person's decision counts once, however many times they click."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from storage import InvalidValueError, NotFoundError, Store


async def _deployment(store: Store) -> str:
    created = await store.deployments.create(
        kind="deploy", environment="prod", version="v1.2.0", strategy="bluegreen",
        requested_by="U_ALICE", state="pending_approval", approvals_required=2,
    )  # fmt: skip
    return created.id


async def test_a_second_decision_by_the_same_person_is_ignored(store: Store, clock: Any) -> None:
    deployment_id = await _deployment(store)
    assert await store.approvals.record(deployment_id, "U_BOB", "approve") is True
    clock.advance(seconds=2)
    assert await store.approvals.record(deployment_id, "U_BOB", "approve") is False
    assert (
        await store.approvals.record(deployment_id, "U_BOB", "reject", "changed my mind") is False
    )
    assert await store.approvals.record(deployment_id, "U_CAROL", "reject", "not today") is True
    decisions = await store.approvals.for_deployment(deployment_id)
    assert [(a.approver, a.decision, a.reason) for a in decisions] == [
        ("U_BOB", "approve", None),
        ("U_CAROL", "reject", "not today"),
    ]
    assert decisions[0].at < decisions[1].at


async def test_concurrent_double_clicks_count_once(store: Store, db_url: str) -> None:
    deployment_id = await _deployment(store)
    async with Store.open(db_url) as other:
        handles = (store, other)
        clicks = [
            handles[i % 2].approvals.record(deployment_id, approver, "approve")
            for i in range(10)
            for approver in ("U_BOB", "U_CAROL")
        ]
        results = await asyncio.gather(*clicks)
    assert results.count(True) == 2
    approvals = await store.approvals.for_deployment(deployment_id)
    assert sorted(a.approver for a in approvals) == ["U_BOB", "U_CAROL"]


async def test_unknown_deployment_and_bad_decisions_are_refused(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no deployment 'nope'"):
        await store.approvals.record("nope", "U_BOB", "approve")
    deployment_id = await _deployment(store)
    with pytest.raises(InvalidValueError, match="decision must be 'approve' or 'reject'"):
        await store.approvals.record(deployment_id, "U_BOB", "maybe")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="approver must be"):
        await store.approvals.record(deployment_id, "", "approve")
    assert await store.approvals.for_deployment(deployment_id) == []
