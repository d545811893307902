"""The three aio SDK clients of one subscription, built inside the running event loop."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.monitor.aio import MonitorManagementClient
from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient
from azure.mgmt.web.aio import WebSiteManagementClient


@dataclass(frozen=True)
class SubscriptionClients:
    web: WebSiteManagementClient
    traffic: TrafficManagerManagementClient
    monitor: MonitorManagementClient

    async def close(self) -> None:
        for client in (self.web, self.traffic, self.monitor):
            await client.close()


@dataclass(frozen=True)
class ClientOptions:
    """How every SDK client is built: where ARM is, which CA to trust, how to poll."""

    arm_url: str | None = None
    ca_file: Path | None = None
    polling_interval_s: float = 2.0

    def kwargs(self) -> dict[str, Any]:
        # The SDK's own retries are off: commands.platform.calls decides what is safe to repeat.
        options: dict[str, Any] = {"retry_total": 0, "polling_interval": self.polling_interval_s}
        if self.ca_file is not None:
            # One SSLContext per client given to the transport; connection_verify would build
            # a new context per request and lose keep-alive (azure-notes §4).
            context = ssl.create_default_context(cafile=str(self.ca_file))
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
            options["transport"] = AioHttpTransport(session=session, session_owner=True)
        return options


def build_clients(
    credential: AsyncTokenCredential, subscription: str, options: ClientOptions
) -> SubscriptionClients:
    base_url = options.arm_url
    return SubscriptionClients(
        web=WebSiteManagementClient(credential, subscription, base_url, **options.kwargs()),
        traffic=TrafficManagerManagementClient(
            credential, subscription, base_url, **options.kwargs()
        ),
        monitor=MonitorManagementClient(credential, subscription, base_url, **options.kwargs()),
    )
