"""The real aio Azure SDK clients pointed at a running sandbox (for tests, console and demos).

One TLS context that trusts the sandbox CA per client transport (keep-alive, ~2 ms a call),
``retry_total=0`` and ``polling_interval=0`` so tests stay fast.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.monitor.aio import MonitorManagementClient
from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient
from azure.mgmt.web.aio import WebSiteManagementClient

from commands.platform.sandbox.sandbox import Sandbox


@dataclass(frozen=True)
class SdkClients:
    web: WebSiteManagementClient
    tm: TrafficManagerManagementClient
    monitor: MonitorManagementClient


def sdk_transport(sb: Sandbox) -> AioHttpTransport:
    """A transport trusting the sandbox CA; call inside the running loop, one per client."""
    context = ssl.create_default_context(cafile=sb.ca_file)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
    return AioHttpTransport(session=session, session_owner=True)


def sdk_credential(sb: Sandbox, secret: str | None = None) -> ClientSecretCredential:
    return ClientSecretCredential(
        sb.tenant_id,
        sb.client_id,
        sb.client_secret if secret is None else secret,
        authority=sb.authority_host,
        connection_verify=str(sb.ca_file),
    )


@asynccontextmanager
async def sdk_clients(sb: Sandbox, subscription: str | None = None) -> AsyncIterator[SdkClients]:
    sub = subscription or sb.subscription_id

    def options() -> dict[str, Any]:
        return {
            "base_url": sb.arm_url,
            "retry_total": 0,
            "polling_interval": 0,
            "transport": sdk_transport(sb),
        }

    async with (
        sdk_credential(sb) as credential,
        WebSiteManagementClient(credential, sub, **options()) as web,
        TrafficManagerManagementClient(credential, sub, **options()) as tm,
        MonitorManagementClient(credential, sub, **options()) as monitor,
    ):
        yield SdkClients(web, tm, monitor)
