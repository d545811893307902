"""Audit log: appending, the hash formula, queries, exports, verifying an intact chain."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from storage import GENESIS_HASH, AuditEvent, InvalidValueError, Store
from storage.audit_export import export_rows
from storage.audit_verify import verify_chain

START = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)  # the clock fixture's start


def independent_hash(prev_hash: str, event: AuditEvent, details_text: str) -> str:
    """The documented formula (chain encoding 2), written out again so a change to it fails
    loudly. Encoding 1 is written out again in test_audit_scale.py."""

    def field(value: str | None) -> str:
        return "-" if value is None else f"{len(value)}:{value}"

    at = event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    fields = (event.id, at, event.actor, event.action, event.environment, event.deployment_id)
    text = f"{prev_hash}\n2\n{event.seq}\n" + "".join(map(field, (*fields, details_text)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def test_append_links_rows_from_the_genesis_hash(store: Store) -> None:
    first = await store.audit.append("alice", "deploy.requested", environment="prod")
    second = await store.audit.append(
        "bob",
        "approval.granted",
        environment="prod",
        deployment_id="d-1",
        details={"version": "v1.2.0", "note": "läuft ✓", "n": [1, 2.5, None, True]},
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.at == START
    assert first.id == "id-0001"
    assert first.hash == independent_hash(GENESIS_HASH, first, "{}")
    details_text = '{"n":[1,2.5,null,true],"note":"läuft ✓","version":"v1.2.0"}'
    assert second.hash == independent_hash(first.hash, second, details_text)
    assert second.details == {"version": "v1.2.0", "note": "läuft ✓", "n": [1, 2.5, None, True]}


async def test_details_datetimes_become_iso_text(store: Store) -> None:
    event = await store.audit.append("alice", "x", details={"when": START, "tuple": (1, 2)})
    assert event.details == {"when": "2026-11-21T09:00:00+00:00", "tuple": [1, 2]}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "", "action": "x"}, "actor must be a non-empty string"),
        ({"actor": "alice", "action": "  "}, "action must be a non-empty string"),
        ({"actor": "alice", "action": "x", "environment": ""}, "environment"),
        ({"actor": "alice", "action": "x", "details": {"obj": object()}}, "cannot hold a object"),
        ({"actor": "alice", "action": "x", "details": {"n": float("nan")}}, "cannot hold nan"),
        ({"actor": "alice", "action": "x", "details": {1: "int key"}}, "keys must be strings"),
        (
            {"actor": "alice", "action": "x", "details": ["not", "a", "mapping"]},
            "must be a mapping",
        ),
    ],
)
async def test_bad_append_input_is_refused_and_writes_nothing(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await store.audit.append(**kwargs)
    assert await store.audit.query() == []
    assert (await store.audit.verify()).ok


async def _fill(store: Store, clock: Any) -> None:
    rows = [
        ("alice", "deploy.requested", "prod", "d-1"),
        ("bob", "approval.granted", "prod", "d-1"),
        ("alice", "deploy.requested", "staging", "d-2"),
        ("carol", "lock.acquired", "staging", None),
        ("system", "deploy.succeeded", "prod", "d-1"),
        ("dave", "click.refused", None, None),
    ]
    for actor, action, environment, deployment_id in rows:
        clock.advance(minutes=10)
        await store.audit.append(
            actor, action, environment=environment, deployment_id=deployment_id
        )


async def test_query_filters_and_orders(store: Store, clock: Any) -> None:
    await _fill(store, clock)
    everything = await store.audit.query()
    assert [e.seq for e in everything] == [6, 5, 4, 3, 2, 1]
    assert [e.seq for e in await store.audit.query(newest_first=False, limit=2)] == [1, 2]
    assert [e.seq for e in await store.audit.query(environment="prod")] == [5, 2, 1]
    assert [e.seq for e in await store.audit.query(deployment_id="d-2")] == [3]
    assert [e.seq for e in await store.audit.query(actions=["deploy.requested"])] == [3, 1]
    assert [e.seq for e in await store.audit.query(actions="lock.acquired")] == [4]
    assert [e.seq for e in await store.audit.query(actor="alice", environment="staging")] == [3]
    since = everything[2].at  # row 4
    assert [e.seq for e in await store.audit.query(since=since)] == [6, 5, 4]
    assert [e.seq for e in await store.audit.query(since=since, until=everything[0].at)] == [5, 4]
    assert await store.audit.query(environment="nowhere") == []


async def test_query_rejects_bad_limits_and_naive_times(store: Store) -> None:
    with pytest.raises(InvalidValueError, match="limit must be a positive"):
        await store.audit.query(limit=0)
    with pytest.raises(InvalidValueError, match="timezone-aware"):
        await store.audit.query(since=datetime(2026, 1, 1))


async def test_query_since_accepts_other_time_zones(store: Store, clock: Any) -> None:
    await _fill(store, clock)
    row4 = (await store.audit.query(newest_first=False))[3]
    cet = row4.at.astimezone(ZoneInfo("Europe/Berlin"))
    assert [e.seq for e in await store.audit.query(since=cet)] == [6, 5, 4]


async def test_export_jsonl_round_trips_every_column(store: Store, clock: Any) -> None:
    await _fill(store, clock)
    out = io.StringIO()
    assert await store.audit.export("jsonl", out) == 6
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    events = await store.audit.query(newest_first=False)
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert list(lines[0]) == [
        "seq", "id", "at", "actor", "action", "environment",
        "deployment_id", "details", "prev_hash", "hash", "chain_version",
    ]  # fmt: skip
    for line, event in zip(lines, events, strict=True):
        assert line["hash"] == event.hash
        assert line["prev_hash"] == event.prev_hash
        assert datetime.fromisoformat(line["at"]) == event.at
        assert line["details"] == event.details


async def test_export_csv_can_be_reverified_from_the_file_alone(store: Store, clock: Any) -> None:
    await _fill(store, clock)
    await store.audit.append("alice", "with.details", details={"a": 'x,"quoted"\nline'})
    out = io.StringIO()
    assert await store.audit.export("csv", out) == 7
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    prev = GENESIS_HASH
    for row in rows:
        assert row["chain_version"] == "2"
        fields = (
            row["id"], row["at"], row["actor"], row["action"],
            row["environment"] or None, row["deployment_id"] or None, row["details"],
        )  # fmt: skip
        text = f"{prev}\n2\n{row['seq']}\n" + "".join(
            "-" if value is None else f"{len(value)}:{value}" for value in fields
        )
        assert row["prev_hash"] == prev
        assert hashlib.sha256(text.encode()).hexdigest() == row["hash"]
        prev = row["hash"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
async def test_export_since_writes_only_newer_rows(store: Store, clock: Any, fmt: str) -> None:
    await _fill(store, clock)
    since = START + timedelta(minutes=35)  # rows 4, 5, 6 are at +40, +50, +60 minutes
    out = io.StringIO()
    assert await store.audit.export(fmt, out, since=since) == 3  # type: ignore[arg-type]
    text = out.getvalue()
    assert "lock.acquired" in text
    assert "approval.granted" not in text


@pytest.mark.parametrize("batch_size", [1, 3, 5, 6, 100])
async def test_export_and_verify_span_batches(store: Store, clock: Any, batch_size: int) -> None:
    await _fill(store, clock)
    out = io.StringIO()
    assert await export_rows(store.db, "jsonl", out, batch_size=batch_size) == 6
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [1, 2, 3, 4, 5, 6]
    out = io.StringIO()
    since = START + timedelta(minutes=25)
    assert await export_rows(store.db, "csv", out, since, batch_size=batch_size) == 4
    result = await verify_chain(store.db, batch_size=batch_size)
    assert (result.ok, result.checked) == (True, 6)


async def test_export_refuses_unknown_formats(store: Store) -> None:
    with pytest.raises(InvalidValueError, match="unknown export format 'xml'"):
        await store.audit.export("xml", io.StringIO())  # type: ignore[arg-type]


async def test_verify_intact_chain(store: Store, clock: Any) -> None:
    empty = await store.audit.verify()
    assert (empty.ok, empty.checked, empty.first_bad_seq, empty.problem) == (True, 0, None, None)
    await _fill(store, clock)
    result = await store.audit.verify()
    assert (result.ok, result.checked, result.first_bad_seq, result.problem) == (
        True,
        6,
        None,
        None,
    )
    assert result.last_seq == 6
    assert result.last_hash == (await store.audit.query(limit=1))[0].hash
