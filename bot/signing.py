"""Whether a request to /slack/events is signed by Slack, without ever raising.

slack-sdk's ``SignatureVerifier`` does ``int(timestamp)`` (ValueError on ``abc``, ``1.7e9``),
``hmac.compare_digest`` on the header as given (TypeError when it is not ASCII) and decodes
the body as UTF-8 first. Here the headers must have Slack's own shapes and the HMAC is taken
over the body's bytes, so a signed body that is not UTF-8 is told apart from a forged one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Literal

Unauthorized = Literal["missing", "malformed", "stale", "mismatch"]
#: Slack's tolerance for clock skew and replays, as slack-sdk applies it.
MAX_AGE_S = 5 * 60
# ASCII digits only: int() would also take " 1", "1_0" and other scripts' digits.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def refusal(
    secret: bytes,
    body: bytes,
    timestamps: Sequence[str],
    signatures: Sequence[str],
    now: float,
) -> Unauthorized | None:
    """None if the request is Slack's, else why not. Each header must be sent exactly once:
    with two, the one checked here and the one Bolt reads again could differ."""
    if not timestamps or not signatures:
        return "missing"
    if len(timestamps) > 1 or len(signatures) > 1:
        return "malformed"
    timestamp, signature = timestamps[0], signatures[0]
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return "malformed"
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return "stale"
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "mismatch"
