"""Sending one request to the app as Slack does, and what came back."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from .interactions import ResponseTarget
from .model import JsonDict, View
from .signing import FORM, signature, signed_headers

DeliveryKind = Literal["command", "block_actions", "view_submission", "raw"]


@dataclass(frozen=True)
class SendOptions:
    """Test knobs: a Slack retry, a forged or missing signature, a chosen (stale) timestamp."""

    retry_num: int | None = None
    retry_reason: str = "http_timeout"
    bad_signature: bool = False
    unsigned: bool = False
    timestamp: int | None = None


@dataclass(frozen=True)
class Delivery:
    """One request to the app and its answer (``status`` None: timed out or unreachable)."""

    kind: DeliveryKind
    status: int | None
    body: str
    headers: Mapping[str, str]
    elapsed: float
    request_body: str
    request_headers: Mapping[str, str]
    payload: JsonDict
    response_url: str | None = None
    trigger_id: str | None = None
    timed_out: bool = False
    error: str | None = None
    view: View | None = None
    target: ResponseTarget | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == 200

    def json(self) -> Any:
        return json.loads(self.body)


def slack_headers(
    signing_secret: str, timestamp: int, body: str, opts: SendOptions
) -> dict[str, str]:
    headers = signed_headers(signing_secret, timestamp, body, content_type=FORM)
    if opts.bad_signature:
        headers["X-Slack-Signature"] = signature("not-" + signing_secret, timestamp, body)
    if opts.unsigned:
        del headers["X-Slack-Signature"], headers["X-Slack-Request-Timestamp"]
    if opts.retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(opts.retry_num)
        headers["X-Slack-Retry-Reason"] = opts.retry_reason
    return headers


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    *,
    kind: DeliveryKind,
    body: str,
    payload: JsonDict,
    headers: dict[str, str],
    ack_timeout: float,
    response_url: str | None,
    trigger_id: str | None,
    target: ResponseTarget | None,
) -> Delivery:
    """POST the body; a slow or unreachable app gives a Delivery with ``status=None``."""
    common: dict[str, Any] = {
        "kind": kind,
        "request_body": body,
        "request_headers": headers,
        "payload": payload,
        "response_url": response_url,
        "trigger_id": trigger_id,
        "target": target,
    }
    started = time.perf_counter()

    def delivered(status: int | None, text: str = "", **extra: Any) -> Delivery:
        elapsed = time.perf_counter() - started
        return Delivery(status=status, body=text, elapsed=elapsed, **common, **extra)

    try:
        async with session.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=ack_timeout),
            allow_redirects=False,
        ) as response:
            text = await response.text()
            return delivered(response.status, text, headers=dict(response.headers))
    except TimeoutError:
        return delivered(None, headers={}, timed_out=True)
    except aiohttp.ClientError as exc:
        return delivered(None, headers={}, error=str(exc) or type(exc).__name__)
