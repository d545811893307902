"""The deployment card and thread notes: pure rendering, checked by the emulator's eyes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.card import (
    STATES,
    CardApproval,
    CardError,
    CardLine,
    CardStep,
    CardView,
    TrafficShare,
    render_card,
)
from bot.render.card_view import card_view
from bot.render.thread import HealthRow, approval_reply, error_reply, health_table, step_reply
from bot.slackemu import SlackEmulator, Workspace, list_buttons, reference_workspace, render_message
from bot.slackemu.validation import validate_blocks
from storage.approvals import Approval
from storage.deployment_model import Deployment, Step

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOKEN = "xoxb-card-test"
BASE = CardView(
    deployment_id="dep-1",
    environment="production",
    kind="deploy",
    strategy="bluegreen",
    requested_by="U0ALICE",
    to_version="v1.2.0",
    from_version="v1.1.0",
    state="running",
    steps=(
        CardStep("Deploy v1.2.0 to green", "done", "package accepted", 12.0),
        CardStep("Health checks on green", "running"),
        CardStep("Switch traffic", "pending"),
        CardStep("Pre-deploy hook", "skipped"),
    ),
    requested_at=NOW - timedelta(minutes=10),
    started_at=NOW - timedelta(seconds=65),
)


def view(**changes: Any) -> CardView:
    return dataclasses.replace(BASE, **changes)


def action_ids(message: dict[str, Any]) -> list[str]:
    return [b.action_id for b in list_buttons(message["blocks"])]


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


# -- buttons: only the ones that make sense now ---------------------------------------------
WATCHING: dict[str, Any] = {"watch_until": NOW + timedelta(minutes=30)}
EXPECTED_BUTTONS: list[tuple[str, str, dict[str, Any], list[str]]] = [
    ("deploy", "pending_approval", {}, ["deploy.approve", "deploy.reject"]),
    ("canary", "pending_approval", {}, ["deploy.approve", "deploy.reject"]),
    ("deploy", "queued", {}, []),
    ("deploy", "running", {}, []),
    ("canary", "running", {}, ["canary.pause", "canary.promote", "canary.abort"]),
    ("canary", "paused", {}, ["canary.resume", "canary.promote", "canary.abort"]),
    ("canary", "queued", {}, []),
    ("deploy", "watching", WATCHING, ["deploy.rollback"]),
    ("deploy", "succeeded", WATCHING, ["deploy.rollback"]),
    ("canary", "succeeded", WATCHING, ["deploy.rollback"]),
    ("deploy", "succeeded", {}, []),
    ("deploy", "succeeded", {"watch_until": NOW}, []),
    ("deploy", "succeeded", {"watch_until": NOW - timedelta(seconds=1)}, []),
    ("rollback", "succeeded", WATCHING, []),
    ("deploy", "succeeded", {**WATCHING, "from_version": None}, []),
    ("deploy", "succeeded", {**WATCHING, "dry_run": True}, []),
    ("deploy", "pending_approval", {"dry_run": True}, []),
    *[
        (kind, state, WATCHING, [])
        for kind in ("deploy", "canary")
        for state in ("failed", "rolling_back", "rolled_back", "rejected", "expired", "cancelled")
    ],
]


@pytest.mark.parametrize(("kind", "state", "extra", "expected"), EXPECTED_BUTTONS)
def test_every_state_shows_only_the_buttons_that_make_sense(
    kind: str, state: str, extra: dict[str, Any], expected: list[str]
) -> None:
    message = render_card(view(kind=kind, state=state, **extra), NOW)
    assert action_ids(message) == expected
    assert validate_blocks(message["blocks"]) == []
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert len(actions) == (1 if expected else 0)
    for block in actions:
        assert "dep-1" in block["block_id"]
        assert all(e["value"] == "dep-1" for e in block["elements"])


def test_every_state_says_what_it_is() -> None:
    for state, (emoji, label) in STATES.items():
        fields = render_card(view(state=state), NOW)["blocks"][2]["fields"]
        assert fields[0]["text"] == f"*State*\n{emoji} {label}"
    expired = render_card(view(state="expired"), NOW)
    assert "Expired — request again" in all_text(expired)
    assert "Expired — request again" in expired["text"]


def test_button_styles_and_the_rollback_confirm_dialog() -> None:
    pending = {
        b.action_id: b
        for b in list_buttons(render_card(view(state="pending_approval"), NOW)["blocks"])
    }
    assert pending["deploy.approve"].style == "primary"
    assert pending["deploy.reject"].style == "danger"
    assert pending["deploy.approve"].label == "Approve"
    [rollback] = list_buttons(render_card(view(state="succeeded", **WATCHING), NOW)["blocks"])
    assert (rollback.label, rollback.style) == ("Roll back", "danger")
    assert rollback.confirm is not None
    assert rollback.confirm["title"]["text"] == "Roll back production?"
    assert "v1.1.0" in rollback.confirm["text"]["text"]
    assert rollback.confirm["confirm"]["text"] == "Roll back"
    assert "Roll back offered until 2026-11-21 12:30 UTC" in all_text(
        render_card(view(state="succeeded", **WATCHING), NOW)
    )


# -- what the card says ---------------------------------------------------------------------
def test_header_versions_requester_and_checklist() -> None:
    message = render_card(BASE, NOW)
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Deploy · production", "emoji": True},
    }
    summary = message["blocks"][1]["text"]["text"]
    assert summary == "`v1.1.0` → `v1.2.0` · blue-green · requested by <@U0ALICE>"
    steps = message["blocks"][3]["text"]["text"].splitlines()
    assert steps == [
        "*Steps*",
        "✓ Deploy v1.2.0 to green (12s) — package accepted",
        "⏳ Health checks on green",
        "○ Switch traffic",
        "– Pre-deploy hook",
    ]
    failed = render_card(view(steps=(CardStep("Swap", "failed", "SwapFailed"),)), NOW)
    assert "✗ Swap — SwapFailed" in all_text(failed)
    assert message["text"] == "Deploy · production: v1.1.0 → v1.2.0 — Running"


def test_elapsed_time_runs_to_now_or_to_the_finish() -> None:
    assert render_card(BASE, NOW)["blocks"][2]["fields"][1]["text"] == "*Elapsed*\n1m05s"
    done = view(state="succeeded", finished_at=NOW - timedelta(seconds=5))
    assert render_card(done, NOW + timedelta(hours=5))["blocks"][2]["fields"][1]["text"] == (
        "*Elapsed*\n1m00s"
    )
    pending = view(state="pending_approval", started_at=None)
    assert render_card(pending, NOW)["blocks"][2]["fields"][1]["text"] == "*Requested*\n10m00s ago"
    skewed = view(started_at=NOW + timedelta(seconds=3))
    assert render_card(skewed, NOW)["blocks"][2]["fields"][1]["text"] == "*Elapsed*\n0ms"


def test_pending_card_says_when_it_expires() -> None:
    pending = view(
        state="pending_approval", started_at=None, expires_at=NOW + timedelta(minutes=20)
    )
    assert "expires 2026-11-21 12:20 UTC (in 20m00s)" in all_text(render_card(pending, NOW))


def test_approvals_count_who_and_when_and_the_reject_reason() -> None:
    card = view(
        state="rejected",
        approvals_required=2,
        approvals=(
            CardApproval("U0BOB", "approve", NOW - timedelta(minutes=3)),
            CardApproval(
                "U0CAROL", "reject", NOW - timedelta(minutes=1), "not during <!here> sale"
            ),
        ),
    )
    section = next(
        b["text"]["text"] for b in render_card(card, NOW)["blocks"] if "Approvals" in str(b)
    )
    assert section.splitlines() == [
        "*Approvals:* 1 of 2",
        "✅ <@U0BOB> approved · 2026-11-21 11:57 UTC",
        "⛔ <@U0CAROL> rejected · 2026-11-21 11:59 UTC: not during &lt;!here&gt; sale",
    ]


def test_traffic_split_and_whether_it_is_effective() -> None:
    split = (TrafficShare("blue", 95), TrafficShare("canary", 5))
    text = all_text(render_card(view(traffic=split), NOW))
    assert "*Traffic:* blue 95% · canary 5%" in text
    assert "_(effective)_" in all_text(
        render_card(view(traffic=split, traffic_effective=True), NOW)
    )
    assert "DNS TTL" in all_text(render_card(view(traffic=split, traffic_effective=False), NOW))


def test_dry_run_override_error_and_rollback_notes() -> None:
    card = view(
        state="rolled_back",
        dry_run=True,
        override_note="--force during the Friday freeze",
        error="(SwapFailed) Cannot swap slots: <b>busy</b>",
        rollback_note="swap back, 2.1s",
        reason="hotfix for\n queue timeouts",
    )
    text = all_text(render_card(card, NOW))
    assert "*Dry run* — nothing will be changed" in text
    assert "*Override:* --force during the Friday freeze" in text
    assert "*Error:* (SwapFailed) Cannot swap slots: &lt;b&gt;busy&lt;/b&gt;" in text
    assert "*Rollback:* swap back, 2.1s" in text
    assert "> hotfix for queue timeouts" in text


def test_user_text_is_escaped_everywhere() -> None:
    nasty = "<!channel> & <https://evil.example|click>"
    card = view(
        state="succeeded",
        to_version=nasty,
        from_version="<!here>",
        reason=nasty,
        error=nasty,
        rollback_note=nasty,
        override_note=nasty,
        steps=(CardStep(nasty, "done", nasty),),
        traffic=(TrafficShare(nasty, 100),),
        requested_by="<!everyone>",
        **WATCHING,
    )
    message = render_card(card, NOW)
    mrkdwn = [t for t in _texts(message) if t["type"] == "mrkdwn"]
    for text in [message["text"], *(t["text"] for t in mrkdwn)]:
        assert "<!" not in text
        assert "<https" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in message["text"]


def _texts(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") in ("mrkdwn", "plain_text") else []
        return found + [t for value in node.values() for t in _texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def test_block_kit_limits_hold_for_huge_input() -> None:
    long = "x" * 5000
    card = view(
        state="pending_approval",
        environment="e" * 300,
        to_version=long,
        reason=long,
        error=long,
        steps=tuple(CardStep(f"step {i} {long}", "done", long) for i in range(300)),
        traffic=tuple(TrafficShare(f"t{i}" * 50, 1) for i in range(100)),
        approvals_required=3,
        approvals=tuple(CardApproval(f"U{i:08d}", "reject", NOW, long) for i in range(200)),
    )
    message = render_card(card, NOW)
    assert validate_blocks(message["blocks"]) == []
    assert len(message["blocks"]) <= 50
    assert all(len(t["text"]) <= 3000 for t in _texts(message))
    assert "… and " in all_text(message)
    assert message["text"]


def test_bad_views_are_refused_with_a_clear_error() -> None:
    with pytest.raises(CardError, match="unknown card state 'swapping'"):
        view(state="swapping")
    with pytest.raises(CardError, match="kind"):
        view(kind="redeploy")
    with pytest.raises(CardError, match="unknown status 'ok'"):
        view(steps=(CardStep("x", "ok"),))
    with pytest.raises(CardError, match="decision"):
        view(approvals=(CardApproval("U0BOB", "maybe", NOW),))
    with pytest.raises(CardError, match="deployment_id"):
        view(deployment_id="")
    with pytest.raises(CardError, match="deployment_id"):
        view(deployment_id="d" * 201)
    with pytest.raises(CardError, match="timezone-aware"):
        view(started_at=datetime(2026, 11, 21, 12, 0))
    with pytest.raises(CardError, match="timezone-aware"):
        render_card(BASE, datetime(2026, 11, 21, 12, 0))


# -- from storage -----------------------------------------------------------------------------
def stored(**changes: Any) -> Deployment:
    base = Deployment(
        id="dep-9",
        kind="canary",
        environment="production",
        version="v2.0.0",
        from_version="v1.9.0",
        strategy="canary",
        requested_by="U0ALICE",
        reason="quarterly release",
        state="pending",
        current_step=None,
        steps=(
            Step("deploy", "done", "ok", NOW - timedelta(seconds=40), NOW - timedelta(seconds=30)),
            Step("stage 5%", "running", None, NOW - timedelta(seconds=30)),
        ),
        flags={},
        context={},
        error=None,
        idempotency_key=None,
        card_channel=None,
        card_ts=None,
        approvals_required=2,
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW,
        finished_at=None,
        expires_at=NOW + timedelta(minutes=25),
    )
    return dataclasses.replace(base, **changes)


def test_card_view_maps_a_stored_deployment() -> None:
    approvals = [Approval("dep-9", "U0BOB", "approve", None, NOW - timedelta(minutes=1))]
    card = card_view(stored(), approvals)
    assert card.state == "pending_approval"
    assert (card.kind, card.to_version, card.from_version) == ("canary", "v2.0.0", "v1.9.0")
    assert card.steps == (
        CardStep("deploy", "done", "ok", 10.0),
        CardStep("stage 5%", "running", None, None),
    )
    assert card.started_at == NOW - timedelta(seconds=40)
    assert card.approvals == (CardApproval("U0BOB", "approve", NOW - timedelta(minutes=1), None),)
    assert card.expires_at == NOW + timedelta(minutes=25)
    assert card_view(stored(state="running"), approvals).state == "running"
    two = [*approvals, Approval("dep-9", "U0CAROL", "approve", None, NOW)]
    assert card_view(stored(), two).state == "queued"
    assert card_view(stored(state="approved"), []).state == "queued"


def test_card_view_reads_error_flags_and_context_hints() -> None:
    deployment = stored(
        state="succeeded",
        flags={"dry_run": True, "force": True},
        error={"code": "SwapFailed", "message": "Cannot swap", "operation": "swap"},
        context={
            "traffic": {"blue": 0, "green": 100},
            "traffic_effective": True,
            "watch_until": (NOW + timedelta(minutes=9)).isoformat(),
            "rollback_note": "swap back, 2.1s",
            "started_at": "garbage",
        },
    )
    card = card_view(deployment, [])
    assert card.dry_run
    assert card.override_note == "--force"
    assert card.error == "swap: (SwapFailed) Cannot swap"
    assert card.traffic == (TrafficShare("blue", 0), TrafficShare("green", 100))
    assert card.traffic_effective is True
    assert card.watch_until == NOW + timedelta(minutes=9)
    assert card.rollback_note == "swap back, 2.1s"
    explicit = card_view(deployment, [], traffic=[("canary", 25)], watch_until=NOW)
    assert (explicit.traffic, explicit.watch_until) == ((TrafficShare("canary", 25),), NOW)
    bare = card_view(stored(steps=(), context={"started_at": "2026-11-21T11:00:00+00:00"}), [])
    assert bare.started_at == NOW - timedelta(hours=1)
    assert card_view(stored(error={"message": "boom"}), []).error == "boom"
    assert card_view(stored(error={"weird": 1}), []).error == "unknown error"


def test_card_view_refuses_a_state_the_card_cannot_show() -> None:
    with pytest.raises(CardError, match="'swapping'"):
        card_view(stored(state="swapping"), [])


# -- thread notes -------------------------------------------------------------------------------
def test_step_reply() -> None:
    message = step_reply("Deploy <!channel> to green", "done", "took a while", 12.3)
    assert message["blocks"][0]["text"]["text"] == (
        "✓ *Deploy &lt;!channel&gt; to green* done in 12s\ntook a while"
    )
    assert step_reply("Swap", "running")["text"] == "⏳ *Swap* started"
    with pytest.raises(CardError):
        step_reply("Swap", "exploded")


def test_health_table_is_an_aligned_monospace_table() -> None:
    message = health_table(
        [
            HealthRow("/health", True, "200", "200", "version v1.2.0"),
            ("latency p95", False, "340ms", "200ms", "<!channel> too slow"),
            HealthRow("/health/redis", True),
        ]
    )
    text = message["blocks"][0]["text"]["text"]
    assert text.splitlines() == [
        ":x: 1 of 3 health checks failed",
        "```",
        "   check          value  threshold  detail",
        "✓  /health        200    200        version v1.2.0",
        "✗  latency p95    340ms  200ms      &lt;!channel&gt; too slow",
        "✓  /health/redis  –      –",
        "```",
    ]
    assert message["text"] == ":x: 1 of 3 health checks failed"
    assert health_table([HealthRow("/health", True)])["text"].startswith(
        ":white_check_mark: All 1 health checks passed"
    )
    assert "No health checks" in health_table([])["text"]
    huge = health_table([HealthRow(f"check {i}", True, "x" * 100) for i in range(500)])
    assert validate_blocks(huge["blocks"]) == []
    assert huge["blocks"][0]["text"]["text"].endswith("more\n```")


def test_error_and_approval_replies() -> None:
    error = error_reply("swap slots", "SwapFailed", "Cannot swap <b>")
    assert error["text"] == ":x: *swap slots* failed — `SwapFailed`: Cannot swap &lt;b&gt;"
    assert error_reply("restart", None, "timed out")["text"] == ":x: *restart* failed — timed out"
    assert approval_reply("U0BOB", "approve", None, 1, 2)["text"] == "✅ <@U0BOB> approved (1 of 2)"
    assert approval_reply("U0CAROL", "approve", None, 2, 2)["text"].endswith("approvals complete")
    assert approval_reply("U0CAROL", "reject", "<!here> no", 0, 2)["text"] == (
        "⛔ <@U0CAROL> rejected: &lt;!here&gt; no"
    )
    with pytest.raises(CardError):
        approval_reply("U0BOB", "maybe", None, 0, 2)


# -- through the real client into the emulator --------------------------------------------------
@pytest.fixture
def ws() -> Workspace:
    return reference_workspace()


@pytest.fixture
async def client(ws: Workspace) -> AsyncIterator[AsyncWebClient]:
    async with SlackEmulator.start(ws, bot_token=TOKEN) as emu:
        yield AsyncWebClient(token=TOKEN, base_url=emu.api_url)


@pytest.mark.parametrize(("kind", "state", "extra", "expected"), EXPECTED_BUTTONS)
async def test_slack_accepts_the_card_and_people_read_it(
    client: AsyncWebClient,
    ws: Workspace,
    kind: str,
    state: str,
    extra: dict[str, Any],
    expected: list[str],
) -> None:
    card = view(kind=kind, state=state, **extra)
    answer = await client.chat_postMessage(channel="C0DEPLOYS", **render_card(card, NOW))
    assert answer["ok"]
    seen = render_message(ws.message("C0DEPLOYS", answer["ts"]), ws.names())
    title = {"deploy": "Deploy", "canary": "Canary", "rollback": "Rollback"}[kind]
    assert f"# {title} · production" in seen.text
    assert ("`v1.1.0`" if card.from_version else "_(nothing live)_") + " → `v1.2.0`" in seen.text
    assert "requested by @alice" in seen.text
    assert [c.button.action_id for c in seen.clickables] == expected


async def test_an_escaped_card_reads_literally_and_updates_in_place(
    client: AsyncWebClient, ws: Workspace
) -> None:
    pending = view(
        state="pending_approval",
        to_version="<!channel>",
        approvals_required=2,
        approvals=(CardApproval("U0BOB", "approve", NOW),),
    )
    posted = await client.chat_postMessage(channel="C0DEPLOYS", **render_card(pending, NOW))
    assert "<!channel>" not in ws.message("C0DEPLOYS", posted["ts"]).text
    seen = render_message(ws.message("C0DEPLOYS", posted["ts"]), ws.names()).text
    assert "`<!channel>`" in seen
    assert "[1] Approve  [2] Reject" in seen
    assert "✅ @bob approved" in seen
    done = dataclasses.replace(pending, state="succeeded", finished_at=NOW, **WATCHING)
    updated = await client.chat_update(
        channel="C0DEPLOYS", ts=posted["ts"], **render_card(done, NOW)
    )
    assert updated["ok"]
    seen = render_message(ws.message("C0DEPLOYS", posted["ts"]), ws.names()).text
    assert "(edited)" in seen
    assert ":white_check_mark: Succeeded" in seen
    assert "[1] Roll back…" in seen
    assert "Approve" not in seen


async def test_thread_notes_are_accepted_and_readable(
    client: AsyncWebClient, ws: Workspace
) -> None:
    root = await client.chat_postMessage(channel="C0DEPLOYS", **render_card(BASE, NOW))
    notes = [
        step_reply("Deploy to green", "done", None, 3),
        health_table([HealthRow("/health", True, "200", "200")]),
        error_reply("swap", "SwapFailed", "Cannot swap"),
        approval_reply("U0CAROL", "approve", None, 2, 2),
    ]
    for note in notes:
        assert (await client.chat_postMessage(channel="C0DEPLOYS", thread_ts=root["ts"], **note))[
            "ok"
        ]
    thread = ws.thread("C0DEPLOYS", root["ts"])[1:]
    seen = [render_message(m, ws.names()).text for m in thread]
    assert "✓ *Deploy to green* done in 3.0s" in seen[0]
    assert "✓  /health  200    200" in seen[1]
    assert ":x: *swap* failed — `SwapFailed`: Cannot swap" in seen[2]
    assert "@carol approved (2 of 2)" in seen[3]


# -- a finished card tells the truth ----------------------------------------------------------
@pytest.mark.parametrize(
    "state", ["succeeded", "failed", "rolled_back", "rejected", "expired", "cancelled"]
)
def test_a_finished_card_never_shows_a_step_running_or_pending(state: str) -> None:
    text = all_text(render_card(view(state=state), NOW))
    assert "⏳" not in text and "○" not in text
    assert "✗ Health checks on green" in text
    assert "– Switch traffic — not run:" in text
    assert "– Pre-deploy hook" in text
    still = all_text(render_card(view(state="rolling_back"), NOW))
    assert "⏳ Health checks on green" in still


def test_a_requested_rollback_names_the_person_and_is_not_an_error() -> None:
    card = view(state="rolled_back", rollback_requested_by="U0ALICE", error=None)
    text = all_text(render_card(card, NOW))
    assert "Rolled back at the request of <@U0ALICE>" in text
    assert "Error" not in text
    going = all_text(render_card(dataclasses.replace(card, state="rolling_back"), NOW))
    assert "Rolling back at the request of <@U0ALICE>" in going
    nasty = all_text(render_card(dataclasses.replace(card, rollback_requested_by="<!here>"), NOW))
    assert "<!here>" not in nasty
    mapped = card_view(stored(state="rolled_back", context={"rollback_requested_by": "U0BOB"}), [])
    assert mapped.rollback_requested_by == "U0BOB"


def test_a_waiting_request_shows_its_place_in_line_and_what_holds_the_environment() -> None:
    pending = render_card(
        view(state="pending_approval", approvals_required=2, line=CardLine(2, 3, "U0BOB", "d-9")),
        NOW,
    )
    assert (
        ":inbox_tray: *In line:* 2nd of 3 for production; it starts after its approvals, "
        "when production is free (now running `d-9`)."
    ) in all_text(pending)
    assert action_ids(pending) == ["deploy.approve", "deploy.reject"]
    behind_a_lock = render_card(view(state="queued", line=CardLine(1, 1, "U0ALICE")), NOW)
    assert (
        "*In line:* 1st of 1 for production; it starts when production is free "
        "(locked by <@U0ALICE>)."
    ) in all_text(behind_a_lock)
    assert "In line" not in all_text(render_card(view(state="queued"), NOW))
