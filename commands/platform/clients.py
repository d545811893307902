"""The three aio SDK clients of one subscription, built inside the running event loop.

Azure Monitor's client is built (and its package imported) on the first metrics read: a bot
whose health checks never read Azure Monitor metrics never loads it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient
from azure.mgmt.web.aio import WebSiteManagementClient

if TYPE_CHECKING:
    from azure.mgmt.monitor.aio import MonitorManagementClient


@dataclass(frozen=True)
class ClientOptions:
    """How every SDK client is built: where ARM is, which CA to trust, how to poll."""

    arm_url: str | None = None
    ca_file: Path | None = None
    polling_interval_s: float = 2.0

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """One context for every client built with these options: loading the CA into a new
        context costs tens of milliseconds, and a context is safe to share between sessions."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def kwargs(self) -> dict[str, Any]:
        # The SDK's own retries are off: commands.platform.calls decides what is safe to repeat.
        options: dict[str, Any] = {"retry_total": 0, "polling_interval": self.polling_interval_s}
        if (context := self.ssl_context) is not None:
            # The context goes to each client's transport; connection_verify would build a
            # new context per request and lose keep-alive (azure-notes §4).
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
            options["transport"] = AioHttpTransport(session=session, session_owner=True)
        return options


class SubscriptionClients:
    def __init__(
        self, credential: AsyncTokenCredential, subscription: str, options: ClientOptions
    ) -> None:
        self._credential = credential
        self._subscription = subscription
        self._options = options
        base_url = options.arm_url
        self.web = WebSiteManagementClient(credential, subscription, base_url, **options.kwargs())
        self.traffic = TrafficManagerManagementClient(
            credential, subscription, base_url, **options.kwargs()
        )
        self._monitor: MonitorManagementClient | None = None

    @property
    def monitor(self) -> MonitorManagementClient:
        if self._monitor is None:
            from azure.mgmt.monitor.aio import MonitorManagementClient

            options = self._options
            self._monitor = MonitorManagementClient(
                self._credential, self._subscription, options.arm_url, **options.kwargs()
            )
        return self._monitor

    async def close(self) -> None:
        for client in (self.web, self.traffic, self._monitor):
            if client is not None:
                await client.close()


def build_clients(
    credential: AsyncTokenCredential, subscription: str, options: ClientOptions
) -> SubscriptionClients:
    return SubscriptionClients(credential, subscription, options)
