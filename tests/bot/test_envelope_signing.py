"""The signature pre-check and the one-line-a-minute summary of what it refuses."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.quiet import Summary
from bot.signing import refusal

SECRET = "s3cret"
BODY = b"command=%2Fdeploy&text=help"
NOW = 1_700_000_000.0


def sign(body: bytes, stamp: str) -> str:
    base = f"v0:{stamp}:".encode() + body
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


class Frozen:
    def now(self) -> float:
        return NOW


KEY = SECRET.encode()
STAMP = str(int(NOW))
GOOD = sign(BODY, STAMP)


def test_a_slack_signature_passes_as_slack_sdk_would_pass_it() -> None:
    assert refusal(KEY, BODY, [STAMP], [GOOD], NOW) is None
    assert SignatureVerifier(SECRET, clock=Frozen()).is_valid(BODY, STAMP, GOOD)


def test_the_signature_covers_the_bytes_so_a_signed_non_utf8_body_is_told_apart() -> None:
    odd = b"payload=\xff\xfe"
    assert refusal(KEY, odd, [STAMP], [sign(odd, STAMP)], NOW) is None
    assert refusal(KEY, odd, [STAMP], [GOOD], NOW) == "mismatch"


@pytest.mark.parametrize(
    ("stamps", "signatures", "reason"),
    [
        ([], [GOOD], "missing"),
        ([STAMP], [], "missing"),
        ([STAMP, STAMP], [GOOD], "malformed"),
        ([STAMP], [GOOD, GOOD], "malformed"),
        (["abc"], [GOOD], "malformed"),
        ([""], [GOOD], "malformed"),
        (["1.7e9"], [GOOD], "malformed"),
        ([" " + STAMP], [GOOD], "malformed"),
        (["1_700_000_000"], [GOOD], "malformed"),
        (["١٧٠٠٠٠٠٠٠٠"], [GOOD], "malformed"),  # int() takes Arabic-Indic digits
        (["9" * 5000], [GOOD], "malformed"),
        ([STAMP], ["v0=" + "é" * 64], "malformed"),  # compare_digest: TypeError
        ([STAMP], ["v0=ÿ"], "malformed"),
        ([STAMP], [GOOD.upper()], "malformed"),
        ([STAMP], [""], "malformed"),
        ([STAMP], ["v1=" + GOOD[3:]], "malformed"),
        ([str(int(NOW) - 301)], [sign(BODY, str(int(NOW) - 301))], "stale"),
        ([str(int(NOW) + 301)], [sign(BODY, str(int(NOW) + 301))], "stale"),
        ([STAMP], ["v0=" + "0" * 64], "mismatch"),
        ([str(int(NOW) - 1)], [GOOD], "mismatch"),
    ],
)
def test_anything_else_is_a_reason_never_an_exception(
    stamps: list[str], signatures: list[str], reason: str
) -> None:
    assert refusal(KEY, BODY, stamps, signatures, NOW) == reason


def test_the_summary_logs_the_first_refusal_then_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [100.0]
    summary = Summary(logging.getLogger("t"), "refused", interval=60, clock=lambda: clock[0])
    with caplog.at_level(logging.WARNING, "t"):
        for _ in range(1000):
            summary.note("malformed")
        summary.note("mismatch")
        assert len(caplog.records) == 1
        clock[0] += 60
        summary.note("mismatch")
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage() == (
        "refused: 1001 in the last 60 s (malformed=999, mismatch=2)"
    )
