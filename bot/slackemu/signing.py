"""Slack's v0 request signature: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``."""

from __future__ import annotations

import hashlib
import hmac

FORM = "application/x-www-form-urlencoded"


def signature(signing_secret: str, timestamp: int | str, body: str | bytes) -> str:
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    signing_secret: str, timestamp: int | str, body: str | bytes, *, content_type: str = FORM
) -> dict[str, str]:
    """The headers Slack sends with every request to an app's request URL."""
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(signing_secret, timestamp, body),
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }
