from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock, SignatureVerifier

from bot.slackemu import signature, signed_headers

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures"


def _vector() -> dict[str, str]:
    data: dict[str, str] = json.loads((PAYLOADS / "slack-signing-test-vector.json").read_text())
    return data


def test_signature_matches_slacks_published_test_vector() -> None:
    v = _vector()
    assert signature(v["signing_secret"], v["timestamp"], v["body"]) == v["x_slack_signature"]
    assert (
        signature(v["signing_secret"], int(v["timestamp"]), v["body"].encode())
        == (v["x_slack_signature"])
    )


def test_signed_headers_are_accepted_by_slack_sdks_verifier() -> None:
    v = _vector()
    headers = signed_headers(v["signing_secret"], v["timestamp"], v["body"])
    verifier = SignatureVerifier(v["signing_secret"], clock=_FixedClock(int(v["timestamp"])))
    assert verifier.is_valid_request(v["body"], headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_changed_body_or_secret_breaks_the_signature() -> None:
    v = _vector()
    good = v["x_slack_signature"]
    assert signature(v["signing_secret"], v["timestamp"], v["body"] + "x") != good
    assert signature("other", v["timestamp"], v["body"]) != good
    assert signature(v["signing_secret"], int(v["timestamp"]) + 1, v["body"]) != good


def test_the_vector_body_is_a_slash_command_form() -> None:
    fields = dict(parse_qsl(_vector()["body"], keep_blank_values=True))
    assert fields["command"] == "/webhook-collect"


class _FixedClock(Clock):
    def __init__(self, now: int):
        self._now = now

    def now(self) -> float:
        return float(self._now)


def test_fixtures_ship_with_the_suite_and_say_where_they_come_from() -> None:
    root = Path(__file__).resolve().parents[2]
    assert PAYLOADS.is_relative_to(root)
    listed = (PAYLOADS / "README.md").read_text()
    for fixture in PAYLOADS.iterdir():
        if fixture.name != "README.md":
            assert f"`{fixture.name}`" in listed, f"{fixture.name}: provenance missing"
