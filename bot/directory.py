"""Who is in which Slack user group, asked of Slack and remembered for a while."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class Directory:
    def __init__(
        self,
        client: AsyncWebClient,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def groups(self, ids: Iterable[str]) -> dict[str, frozenset[str]]:
        return {group: await self.members(group) for group in ids}

    async def members(self, group: str) -> frozenset[str]:
        now = self._clock()
        cached = self._cache.get(group)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        try:
            reply = await self._client.usergroups_users_list(usergroup=group)
            users = frozenset(str(u) for u in reply.get("users") or ())
        except SlackApiError as error:
            # An unknown or unreadable group grants nothing; say so in the log, not to the user.
            log.warning("usergroups.users.list %s failed: %s", group, error.response.get("error"))
            users = cached[1] if cached else frozenset()
        self._cache[group] = (now, users)
        return users
