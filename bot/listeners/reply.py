"""An answer to whoever clicked, however the click reached us.

Not every payload carries a ``response_url`` (a button in App Home or a modal never does),
and without one Bolt's ``respond`` raises. The answer then goes as an ephemeral in the click's
channel or, without a channel (or when Slack refuses the ephemeral), as a direct message.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


async def reply(
    body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, answer: dict[str, Any]
) -> None:
    if respond.response_url is not None:
        await respond(**answer, replace_original=False)
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
