"""Who may post alerts: the shared token (Bearer or ?token=), Grafana's HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

# Grafana puts the timestamp it signed in a header named by its hmacConfig; these are the
# names we look in. With a timestamp, the signed text is "<timestamp>:<body>".
TIMESTAMP_HEADERS = ("x-grafana-alerting-signature-timestamp", "x-grafana-alerting-timestamp")
SIGNATURE_HEADER = "x-grafana-alerting-signature"
MAX_SKEW_S = 300


def token_problem(
    expected: str | None, headers: Mapping[str, str], query: Mapping[str, str]
) -> str | None:
    """None when the request carries the token; else the short reason it is refused."""
    if not expected:
        return "alert webhooks are off: DEPLOYBOT_ALERT_TOKEN is not set"
    given = ""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif "token" in query:
        given = query["token"]
    if not given:
        return "missing token (send Authorization: Bearer <token> or ?token=)"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return "wrong token"
    return None


def signature_problem(
    secret: str | None,
    headers: Mapping[str, str],
    body: bytes,
    clock: Callable[[], float] = time.time,
) -> str | None:
    """Grafana's ``X-Grafana-Alerting-Signature``: hex HMAC-SHA256 of ``[ts:]body``."""
    if not secret:
        return None
    signature = headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not signature:
        return "missing X-Grafana-Alerting-Signature"
    stamp = next((headers[h] for h in TIMESTAMP_HEADERS if headers.get(h)), None)
    signed = body if stamp is None else stamp.encode() + b":" + body
    if stamp is not None:
        try:
            skew = abs(clock() - float(stamp))
        except ValueError:
            return "bad signature timestamp"
        if skew > MAX_SKEW_S:
            return "stale signature timestamp"
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return "bad X-Grafana-Alerting-Signature"
    return None
