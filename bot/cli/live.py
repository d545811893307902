"""`deploybot check --live`: can we reach Slack and the Azure resources the config names?"""

from __future__ import annotations

from typing import TextIO

from slack_sdk.errors import SlackApiError

from bot import assemble
from bot.settings import Settings


async def live_checks(settings: Settings, out: TextIO) -> list[str]:
    problems: list[str] = []
    client = assemble.slack_client(settings)
    try:
        reply = await client.auth_test()
        print(f"  slack: OK — {reply.get('team')} as {reply.get('user')}", file=out)
    except SlackApiError as error:
        problems.append(f"slack: {error.response.get('error')}")
    except Exception as error:  # the network, DNS, TLS: report and go on
        problems.append(
            f"slack: cannot reach {settings.runtime.slack_api_url or 'slack.com'} ({error})"
        )
    for problem in problems:
        print(f"  {problem}", file=out)
    return problems
