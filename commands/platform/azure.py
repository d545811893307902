"""``Platform`` on the official async Azure SDK (App Service, Traffic Manager, Azure Monitor)."""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from azure.core.credentials_async import AsyncTokenCredential
from azure.mgmt.trafficmanager.models import Endpoint as TmEndpoint
from azure.mgmt.trafficmanager.models import EndpointProperties
from azure.mgmt.web.models import Experiments, RampUpRule, SiteConfig, SiteConfigResource

from commands.config.model import Environment
from commands.platform import monitor
from commands.platform.arm import Arm
from commands.platform.base import (
    CallObserver,
    Deployable,
    EnvironmentState,
    MetricSeries,
    Platform,
    SiteInfo,
    SwapAccepted,
    SwapOutcome,
)
from commands.platform.calls import Caller, Clock, RetryPolicy, SystemClock
from commands.platform.clients import ClientOptions
from commands.platform.errors import InvalidRequest
from commands.platform.gather import gather_all
from commands.platform.read_state import (
    endpoints_by_target,
    read_environment,
    read_site,
    routing_of,
)
from commands.platform.swap import settle_swap, swap_slots
from commands.platform.targets import PRODUCTION, TargetRef, site_of, targets_of
from commands.platform.traffic import SplitError, normalise_split, plan_split

RUN_FROM_PACKAGE = "WEBSITE_RUN_FROM_PACKAGE"


class AzurePlatform:
    """Build with ``await AzurePlatform.create(credential, ...)``; close with ``await close()``."""

    def __init__(
        self,
        arm: Arm,
        *,
        swap_timeout_s: float,
        jitter: Callable[[], float] = random.random,
        credential_to_close: AsyncTokenCredential | None = None,
    ) -> None:
        self._arm = arm
        self._swap_timeout_s = swap_timeout_s
        self._jitter = jitter
        self._credential_to_close = credential_to_close

    @classmethod
    async def create(
        cls,
        credential: AsyncTokenCredential | None = None,
        *,
        arm_url: str | None = None,
        ca_file: str | Path | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 (a budget passed on, not awaited here)
        attempt_timeout: float | None = 10.0,
        swap_timeout: float = 900.0,
        retries: int = 4,
        retry: RetryPolicy | None = None,
        polling_interval: float = 2.0,
        clock: Clock | None = None,
        jitter: Callable[[], float] = random.random,
        on_call: CallObserver | None = None,
    ) -> AzurePlatform:
        """``credential=None`` builds (and ``close()`` closes) a ``DefaultAzureCredential``.

        ``timeout`` bounds each operation including its retries; ``attempt_timeout`` bounds one
        attempt of a read or restart, which is then sent again (None: no such bound);
        ``swap_timeout`` bounds the wait for a swap to finish. ``retry`` overrides ``retries``
        with a full policy.
        """
        options = ClientOptions(
            arm_url=arm_url.rstrip("/") if arm_url else None,
            ca_file=Path(ca_file) if ca_file else None,
            polling_interval_s=polling_interval,
        )
        _check_ca_file(options)
        owned = None
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = owned = DefaultAzureCredential()
        caller = Caller(
            timeout_s=timeout,
            attempt_timeout_s=attempt_timeout,
            retry=retry or RetryPolicy(retries=retries),
            clock=clock or SystemClock(),
            jitter=jitter,
            on_call=on_call,
        )
        return cls(
            Arm(credential, options, caller),
            swap_timeout_s=swap_timeout,
            jitter=jitter,
            credential_to_close=owned,
        )

    async def close(self) -> None:
        await self._arm.close()
        if self._credential_to_close is not None:
            await self._credential_to_close.close()

    async def __aenter__(self) -> AzurePlatform:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def read_state(self, env: Environment) -> EnvironmentState:
        return await read_environment(self._arm, env)

    async def read_site(self, target: TargetRef, version_setting: str = "APP_VERSION") -> SiteInfo:
        return await read_site(self._arm, target, version_setting)

    async def read_states(self, envs: list[Environment]) -> list[EnvironmentState]:
        """Several environments at once (concurrently)."""
        return await gather_all(*(self.read_state(env) for env in envs))

    async def read_metrics(
        self,
        target: TargetRef,
        start: datetime,
        end: datetime,
        interval: timedelta = timedelta(minutes=1),
    ) -> MetricSeries:
        try:
            span, grain = monitor.timespan(start, end), monitor.iso_duration(interval)
        except ValueError as exc:
            raise InvalidRequest("read metrics", target.label, "InvalidWindow", str(exc)) from None
        response = await self._arm.metrics(
            target,
            timespan=span,
            interval=grain,
            names=monitor.METRIC_NAMES,
            aggregation=monitor.AGGREGATIONS,
        )
        return monitor.series_from_response(response, target.label, start, end)

    async def put_version(self, target: TargetRef, deployable: Deployable) -> None:
        if deployable.image is not None:
            config = SiteConfigResource(
                properties=SiteConfig(linux_fx_version=f"DOCKER|{deployable.image}")
            )
            await self._arm.patch_config(target, config)
        # PUT replaces the whole set: read, change ours, write back.
        current = await self._arm.app_settings(target)
        wanted = dict(current)
        if deployable.package_url is not None:
            wanted[RUN_FROM_PACKAGE] = deployable.package_url
        wanted[deployable.version_setting] = deployable.version
        if wanted != current:
            await self._arm.put_app_settings(target, wanted)

    async def restart(self, target: TargetRef) -> None:
        await self._arm.restart(target)

    async def swap(
        self,
        site: TargetRef,
        slot: str,
        target_slot: str = PRODUCTION,
        *,
        on_accepted: SwapAccepted | None = None,
    ) -> None:
        await swap_slots(
            self._arm,
            site.site,
            slot,
            target_slot,
            timeout_s=self._swap_timeout_s,
            jitter=self._jitter,
            on_accepted=on_accepted,
        )

    async def settle_swap(
        self, site: TargetRef, slot: str, token: str, target_slot: str = PRODUCTION
    ) -> tuple[SwapOutcome, str]:
        return await settle_swap(
            self._arm, site.site, slot, token, target_slot, timeout_s=self._swap_timeout_s
        )

    async def swap_preview(self, site: TargetRef, slot: str) -> None:
        await self._arm.apply_slot_config(site, slot)

    async def swap_reset(self, site: TargetRef) -> None:
        await self._arm.reset_slot_config(site)

    async def set_ramp_up(self, site: TargetRef, slot: str, percent: float) -> None:
        site = site.site
        if not 0 <= percent <= 100:
            raise InvalidRequest(
                "set ramp-up",
                f"{site.app}/{slot}",
                "InvalidPercent",
                f"{percent:g} % is not between 0 and 100",
            )
        slot_site, config = await gather_all(
            self._arm.get_site(site.slot_ref(slot)), self._arm.get_config(site)
        )
        host = str(getattr(slot_site, "default_host_name", "") or "").lower()
        experiments = getattr(config, "experiments", None)
        rules = [
            rule
            for rule in (experiments.ramp_up_rules if experiments else None) or []
            if rule.name != slot and str(rule.action_host_name or "").lower() != host
        ]
        if percent > 0:
            rules.append(RampUpRule(name=slot, action_host_name=host, reroute_percentage=percent))
        await self._arm.patch_config(
            site,
            SiteConfigResource(properties=SiteConfig(experiments=Experiments(ramp_up_rules=rules))),
        )

    async def set_split(self, env: Environment, percents: Mapping[str, float]) -> None:
        try:
            split = normalise_split(targets_of(env), percents)
        except SplitError as exc:
            raise InvalidRequest("set traffic split", env.name, "InvalidSplit", str(exc)) from None
        if env.topology == "slots":
            slot = str(env.azure.slot)
            await self.set_ramp_up(site_of(env), slot, split[slot])
            return
        endpoints = endpoints_by_target(env, await self._arm.get_profile(env.azure))
        missing = [name for name, p in split.items() if p > 0 and name not in endpoints]
        if missing:
            raise InvalidRequest(
                "set traffic split",
                env.name,
                "EndpointMissing",
                f"profile {env.azure.traffic_manager} has no endpoint for {missing[0]}",
            )
        routing = routing_of(endpoints)
        for change in plan_split(routing, {n: p for n, p in split.items() if n in routing}):
            status = (
                None if change.enabled is None else ("Enabled" if change.enabled else "Disabled")
            )
            patch = TmEndpoint(
                properties=EndpointProperties(weight=change.weight, endpoint_status=status)
            )
            await self._arm.patch_endpoint(env.azure, routing[change.name].name, patch)


def _check_ca_file(options: ClientOptions) -> None:
    """Fail at start-up, not at the first deploy, when the CA bundle cannot be used (the
    context loaded here is the one every client then uses)."""
    try:
        options.ssl_context  # noqa: B018 (loads the CA file)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidRequest(
            "connect", str(options.ca_file), "InvalidCaFile", f"cannot load the CA file: {exc}"
        ) from None


def _implements_platform(platform: AzurePlatform) -> Platform:
    return platform  # mypy checks here that AzurePlatform satisfies the Platform protocol
