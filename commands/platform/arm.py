"""Single Azure requests, each through ``Caller`` (budget, retries, observer, typed errors).

Each method is one ARM request on the aio SDK clients of the resource's subscription. All of
them are safe to repeat once answered (reads, whole-value PUTs and PATCHes, a restart); the swap,
which a repeat would undo, is in ``swap``.

Only reads and the restart are sent again when an attempt hangs (``retry_hung``). An abandoned
request may still be carried out late: a late read changes nothing, a late restart costs one
more cold start but never a different version, while a late write could land after the next one
and undo it (a weight PATCH after a rollback's, say), so writes keep one attempt for the budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.polling import AsyncLROPoller
from azure.mgmt.trafficmanager.models import Endpoint as TmEndpoint
from azure.mgmt.trafficmanager.models import Profile
from azure.mgmt.web.models import CsmSlotEntity, Site, SiteConfigResource, StringDictionary

from commands.config.model import AzureResources
from commands.platform.calls import Caller
from commands.platform.clients import ClientOptions, SubscriptionClients, build_clients
from commands.platform.errors import PlatformError
from commands.platform.targets import PRODUCTION, TargetRef

if TYPE_CHECKING:
    from azure.mgmt.monitor.models import Response as MetricsResponse


class Arm:
    def __init__(
        self, credential: AsyncTokenCredential, options: ClientOptions, caller: Caller
    ) -> None:
        self.caller = caller
        self._credential = credential
        self._options = options
        self._clients: dict[str, SubscriptionClients] = {}
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for subscription in clients:
            await subscription.close()

    def clients(self, subscription: str) -> SubscriptionClients:
        """Built on first use, inside the running loop (their aiohttp sessions need it)."""
        if self._closed:
            raise PlatformError("connect", subscription, "Closed", "the platform is closed")
        clients = self._clients.get(subscription)
        if clients is None:
            clients = build_clients(self._credential, subscription, self._options)
            self._clients[subscription] = clients
        return clients

    # -- App Service ----------------------------------------------------------------------

    async def _web(
        self,
        operation: str,
        target: TargetRef,
        method: str,
        *args: Any,
        retry_hung: bool = False,
    ) -> Any:
        """A ``web_apps`` call, using the ``_slot`` variant when the target is a slot."""
        web_apps = self.clients(target.subscription).web.web_apps
        if target.slot:
            fn = getattr(web_apps, f"{method}_slot")
            call = (target.resource_group, target.app, target.slot, *args)
        else:
            fn = getattr(web_apps, method)
            call = (target.resource_group, target.app, *args)
        return await self.caller.call(
            operation, target.label, lambda: fn(*call), retry_hung=retry_hung
        )

    async def get_site(self, target: TargetRef) -> Site:
        site: Site = await self._web("read site", target, "get", retry_hung=True)
        return site

    async def app_settings(self, target: TargetRef) -> dict[str, str]:
        settings = await self._web(
            "read app settings", target, "list_application_settings", retry_hung=True
        )
        return dict(settings.properties or {})

    async def put_app_settings(self, target: TargetRef, settings: dict[str, str]) -> None:
        body = StringDictionary(properties=settings)
        await self._web("update app settings", target, "update_application_settings", body)

    async def get_config(self, target: TargetRef) -> SiteConfigResource:
        config: SiteConfigResource = await self._web(
            "read site config", target, "get_configuration", retry_hung=True
        )
        return config

    async def patch_config(self, target: TargetRef, config: SiteConfigResource) -> None:
        await self._web("update site config", target, "update_configuration", config)

    async def restart(self, target: TargetRef) -> None:
        await self._web("restart", target, "restart", retry_hung=True)

    async def apply_slot_config(self, site: TargetRef, slot: str) -> None:
        entity = CsmSlotEntity(target_slot=slot, preserve_vnet=True)
        await self._web("apply slot config", site.site, "apply_slot_config_to_production", entity)

    async def reset_slot_config(self, site: TargetRef) -> None:
        await self._web("reset slot config", site.site, "reset_production_slot_config")

    def swap_starter(
        self, site: TargetRef, slot: str, target_slot: str
    ) -> Callable[..., Awaitable[AsyncLROPoller[None]]]:
        """Starts (or, given ``continuation_token=``, resumes) the swap LRO; no Caller here."""
        web_apps = self.clients(site.subscription).web.web_apps
        if target_slot == PRODUCTION:
            entity = CsmSlotEntity(target_slot=slot, preserve_vnet=True)
            return lambda **kw: web_apps.begin_swap_slot_with_production(
                site.resource_group, site.app, entity, **kw
            )
        entity = CsmSlotEntity(target_slot=target_slot, preserve_vnet=True)
        return lambda **kw: web_apps.begin_swap_slot(
            site.resource_group, site.app, slot, entity, **kw
        )

    # -- Traffic Manager ------------------------------------------------------------------

    async def get_profile(self, az: AzureResources) -> Profile:
        traffic = self.clients(az.subscription).traffic
        profile = str(az.traffic_manager)
        result: Profile = await self.caller.call(
            "read traffic manager profile",
            profile,
            lambda: traffic.profiles.get(az.resource_group, profile),
            retry_hung=True,
        )
        return result

    async def patch_endpoint(self, az: AzureResources, endpoint: str, patch: TmEndpoint) -> None:
        traffic = self.clients(az.subscription).traffic
        profile = str(az.traffic_manager)
        await self.caller.call(
            "update traffic manager endpoint",
            f"{profile}/{endpoint}",
            lambda: traffic.endpoints.update(
                az.resource_group, profile, az.endpoint_type, endpoint, patch
            ),
        )

    # -- Azure Monitor --------------------------------------------------------------------

    async def metrics(
        self, target: TargetRef, *, timespan: str, interval: str, names: str, aggregation: str
    ) -> MetricsResponse:
        mon = self.clients(target.subscription).monitor
        result: MetricsResponse = await self.caller.call(
            "read metrics",
            target.label,
            lambda: mon.metrics.list(
                target.resource_id,
                timespan=timespan,
                interval=interval,
                metricnames=names,
                aggregation=aggregation,
            ),
            retry_hung=True,
        )
        return result
