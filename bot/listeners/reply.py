"""Answers to whoever typed a command or clicked, however the request reached us.

Answers to a ``response_url`` go through :class:`ResponseUrls`: one HTTP session for every
answer, so they reuse kept-alive connections. Bolt's ``respond`` opens a new session, and a
new connection (a TLS handshake, with Slack), per call; under load that was most of an
answer's time.

Not every payload carries a ``response_url`` (a button in App Home or a modal never does).
The answer then goes as an ephemeral in the click's channel or, without a channel (or when
Slack refuses the ephemeral), as a direct message.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

log = logging.getLogger(__name__)


class ResponseUrls:
    """Posts answers to response URLs through one shared session (opened on first use,
    inside the running loop; closed with the bot)."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def send(self, url: str, answer: dict[str, Any]) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        client = AsyncWebhookClient(url, timeout=int(self._timeout_s), session=self._session)
        sent = await client.send_dict({k: v for k, v in answer.items() if v is not None})
        if sent.status_code != 200:
            # As Bolt's respond: Slack's refusal is logged, never raised into the listener.
            log.warning("response_url answered %s: %s", sent.status_code, sent.body[:200])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def answer_command(
    responses: ResponseUrls, respond: AsyncRespond, answer: dict[str, Any]
) -> None:
    """A slash command's answer, to its response_url (a command always carries one)."""
    if respond.response_url is None:
        raise ValueError("a slash command without a response_url cannot be answered")
    await responses.send(respond.response_url, answer)


async def reply(
    body: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    answer: dict[str, Any],
    responses: ResponseUrls,
) -> None:
    if respond.response_url is not None:
        await responses.send(respond.response_url, {**answer, "replace_original": False})
        return
    user = str(body.get("user", {}).get("id", ""))
    text, blocks = answer.get("text", ""), answer.get("blocks")
    channel = _channel_of(body)
    if channel:
        try:
            await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
            return
        except SlackApiError as error:
            # Not in the channel, say; the person still has to hear the answer.
            log.warning("ephemeral answer in %s failed (%s); sending a DM", channel, error)
    await client.chat_postMessage(channel=user, text=text, blocks=blocks)


def _channel_of(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None
