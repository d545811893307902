"""``Sandbox.start``: local Azure (ARM + Entra over HTTPS, apps, front doors, admin) wired up."""

from __future__ import annotations

import random
import secrets
import shutil
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from commands.platform.sandbox.admin import AdminApi
from commands.platform.sandbox.alerting import AlertSender, units_by_environment
from commands.platform.sandbox.apps import AppFleet
from commands.platform.sandbox.arm_monitor import MonitorApi
from commands.platform.sandbox.arm_swap import SwapApi
from commands.platform.sandbox.arm_tm import TrafficManagerApi
from commands.platform.sandbox.arm_web import WebApi
from commands.platform.sandbox.armcore import ArmFrontEnd, ArmHandler
from commands.platform.sandbox.artifacts import PREFIX, ArtifactStore
from commands.platform.sandbox.configmap import sandbox_mapping
from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.frontdoor import FrontDoors
from commands.platform.sandbox.identity import TokenEndpoint, is_identity_path
from commands.platform.sandbox.lifecycle import Lifecycle
from commands.platform.sandbox.listeners import Listener
from commands.platform.sandbox.load import SyntheticLoad, check_rate
from commands.platform.sandbox.lro import Operations
from commands.platform.sandbox.metrics import MetricStore
from commands.platform.sandbox.recording import ArmLog, Predicate, RecordedRequest
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.router import Router
from commands.platform.sandbox.state import summary
from commands.platform.sandbox.system import SandboxSystem
from commands.platform.sandbox.tls import make_tls_files
from commands.platform.sandbox.world import World

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Sandbox:
    """A running sandbox. Make one with ``async with Sandbox.start(...) as sb``."""

    def __init__(
        self,
        system: SandboxSystem,
        clock: Clock,
        seed: int | None,
        lro_polls: int,
        load_rps: float = 0.0,
    ):
        self.system = system
        self.clock = clock
        base = random.Random(seed)
        self._ids = random.Random(base.getrandbits(64))
        self._traffic_rng = random.Random(base.getrandbits(64))
        self._error_rng = random.Random(base.getrandbits(64))
        self._lro_polls = lro_polls
        self.tenant_id = system.tenant_id
        self.client_id = system.client_id
        self.client_secret = secrets.token_urlsafe(24)
        self.subscription_id = system.subscription_id
        self._stack = AsyncExitStack()
        self._arm_log = ArmLog()
        self._store = MetricStore()
        self._operations = Operations(self._new_id)
        self._tokens = TokenEndpoint(self.tenant_id, self.client_id, self.client_secret)
        self._side = Listener(self._side_handler)
        self._admin: AdminApi | None = None
        self._artifacts: ArtifactStore | None = None
        self.load = SyntheticLoad(self.front_doors, load_rps)
        """Steady requests through every front door: ``sb.load.set_rate(rps)``, 0 = off."""

    # Start and stop

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        system: SandboxSystem | None = None,
        port: int = 0,
        clock: Clock | None = None,
        seed: int | None = None,
        *,
        lro_polls: int = 1,
        load_rps: float = 0.0,
    ) -> AsyncIterator[Sandbox]:
        """Run the sandbox for the ``async with`` block (``port`` = ARM HTTPS port, 0 = any).

        ``load_rps``: synthetic requests a second to each front door (0, the default: none).
        """
        sandbox = await cls.launch(
            system, port, clock, seed, lro_polls=lro_polls, load_rps=load_rps
        )
        try:
            yield sandbox
        finally:
            await sandbox.aclose()

    @classmethod
    async def launch(
        cls,
        system: SandboxSystem | None = None,
        port: int = 0,
        clock: Clock | None = None,
        seed: int | None = None,
        *,
        lro_polls: int = 1,
        load_rps: float = 0.0,
    ) -> Sandbox:
        """Start a sandbox that runs until ``await sandbox.aclose()``."""
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise SandboxError(f"port must be 0..65535, got {port!r}")
        if lro_polls < 0:
            raise SandboxError("lro_polls must not be negative")
        sandbox = cls(
            system or SandboxSystem.reference(),
            clock or _utc_now,
            seed,
            lro_polls,
            check_rate(load_rps),
        )
        try:
            await sandbox._open(port)
        except BaseException:
            await sandbox.aclose()
            raise
        return sandbox

    async def _open(self, port: int) -> None:
        stack = self._stack
        folder = Path(tempfile.mkdtemp(prefix="deploybot-sandbox-"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        self._tls = make_tls_files(folder, self.clock())
        await self._side.start()
        stack.push_async_callback(self._side.close)
        self.world = World(self.system, self.clock(), self.artifact_url)
        self.faults = Faults(self.world, self._set_down, self._operations.release_all)
        lifecycle = Lifecycle(
            self.clock,
            self._new_id,
            lambda version: self.faults.for_version(version).missing_artifact,
            lambda unit: self.faults.for_unit(unit).slow_start_s,
        )
        lifecycle.record_initial(list(self.world.units()))
        self._artifacts = ArtifactStore(self.faults)
        from commands.config import reference_mapping

        hosts = units_by_environment(self.world, reference_mapping())
        self.alerting = AlertSender(lambda: hosts, self.clock, external_url=self.admin_url)
        """Alertmanager-shaped webhooks on a 5xx share: ``sb.alerting.send_to(url, token)``."""
        stack.push_async_callback(self.alerting.aclose)
        self._admin = AdminApi(self.faults, self.state, self._arm_log, self.load, self.alerting)

        router: Router[ArmHandler] = Router()
        WebApi(self.world, lifecycle).register(router)
        SwapApi(self.world, lifecycle, self._operations, self.faults, self._lro_polls).register(
            router
        )
        TrafficManagerApi(self.world, self.faults, self.clock).register(router)
        MonitorApi(self.world, self._store, self.clock).register(router)
        self._arm = ArmFrontEnd(router, self.faults, self._tokens.valid, self._arm_log, self.clock)
        self._https = Listener(self._https_handler, ssl_context=self._tls.server_context())
        await self._https.start(port)
        stack.push_async_callback(self._https.close)
        stack.callback(self.faults.release_hangs)  # before the HTTPS server waits for handlers

        self._fleet = AppFleet(self.world, self.faults, self._store, self.clock, self._error_rng)
        stack.push_async_callback(self._fleet.aclose)
        await self._fleet.start()
        self._doors = FrontDoors(
            self.world, self.faults, self.clock, self._traffic_rng, self._fleet.url
        )
        stack.push_async_callback(self._doors.aclose)
        await self._doors.start()
        stack.push_async_callback(self.load.aclose)  # stops before the doors and apps do
        await self.load.start()

    async def aclose(self) -> None:
        await self._stack.aclose()

    # Request handlers of the two servers

    async def _https_handler(self, request: web.BaseRequest) -> web.StreamResponse:
        if is_identity_path(request.path):
            return await self._tokens.handle(request)
        return await self._arm.handle(request)

    async def _side_handler(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.path.startswith(PREFIX) and self._artifacts is not None:
            return await self._artifacts.handle(request)
        if request.path.startswith("/admin") and self._admin is not None:
            return await self._admin.handle(request)
        return web.json_response(
            {"admin": f"{self.admin_url}/admin/state", "artifacts": f"{self.admin_url}{PREFIX}"},
            status=404 if request.path != "/" else 200,
        )

    def _new_id(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    def _set_down(self, unit: Unit, down: bool) -> None:
        self._fleet.set_down(unit, down)

    # Where things are

    @property
    def arm_url(self) -> str:
        return self._https.url

    @property
    def authority_host(self) -> str:
        return self._https.url

    @property
    def admin_url(self) -> str:
        """Base URL of the plain-http side server (``/admin/...`` and ``/artifacts/...``)."""
        return self._side.url

    @property
    def ca_file(self) -> Path:
        return self._tls.ca_file

    @property
    def ca_bundle_file(self) -> Path:
        """The sandbox CA plus the public roots: safe as SSL_CERT_FILE for a whole process."""
        return self._tls.bundle_file

    def env(self) -> dict[str, str]:
        return {
            "AZURE_RESOURCE_MANAGER_URL": self.arm_url,
            "AZURE_AUTHORITY_HOST": self.authority_host,
            "AZURE_TENANT_ID": self.tenant_id,
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_CLIENT_SECRET": self.client_secret,
            "AZURE_SUBSCRIPTION_ID": self.subscription_id,
            "SSL_CERT_FILE": str(self.ca_bundle_file),
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle_file),
        }

    def app_url(self, app: str, slot: str | None = None) -> str:
        return self._fleet.url(self.world.unit(app, slot))

    def front_door_url(self, name: str) -> str:
        """A Traffic Manager profile's or a slotted Web App's entry (a plain app's own host)."""
        url = self._doors.url(name)
        if url is not None:
            return url
        if self.world.app(name) is not None:
            return self.app_url(name)
        raise SandboxError(f"no Traffic Manager profile or Web App named {name!r} in the sandbox")

    def front_doors(self) -> dict[str, str]:
        """Every front door (Traffic Manager profiles, then Web Apps with slots) and its URL."""
        names = [p.name for p in self.world.profiles.values()]
        names += [s.name for s in self.world.sites.values() if s.slots]
        return {name: self.front_door_url(name) for name in names}

    def artifact_url(self, version: str) -> str:
        return f"{self.admin_url}{PREFIX}{self.system.artifact_folder}/{version}.zip"

    def config_mapping(self) -> dict[str, Any]:
        from commands.config import reference_mapping

        return sandbox_mapping(
            reference_mapping(),
            self.world,
            self._fleet.url,
            self._doors.url,
            f"{self.admin_url}{PREFIX.rstrip('/')}",
        )

    def config_yaml(self) -> str:
        header = "# deploybot.yml for the local Azure sandbox (generated by `deploybot sandbox`)\n"
        return header + yaml.safe_dump(self.config_mapping(), sort_keys=False, allow_unicode=True)

    # What happened

    def served(self, app: str, slot: str | None = None) -> Counter[str]:
        """Requests that app/slot host answered: ``total``, by class (``2xx``) and by code."""
        return Counter(self.world.unit(app, slot).served)

    def version(self, app: str, slot: str | None = None) -> str:
        """The version running on that host now."""
        return self.world.unit(app, slot).process.version

    @property
    def arm_requests(self) -> list[RecordedRequest]:
        return self._arm_log.records

    async def wait_for_arm(
        self,
        predicate: Predicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the sandbox API
    ) -> RecordedRequest:
        """The first ARM request matching ``predicate`` (already answered or yet to come)."""
        return await self._arm_log.wait_for(predicate, timeout)

    @property
    def tokens_issued(self) -> int:
        return self._tokens.issued

    def inject_metrics(
        self,
        app: str,
        slot: str | None = None,
        *,
        at: datetime | None = None,
        requests: int,
        http5xx: int = 0,
        response_time_s: float = 0.05,
    ) -> None:
        """Add synthetic Azure Monitor traffic to one minute of an app/slot."""
        if requests < 0 or http5xx < 0 or http5xx > requests or response_time_s < 0:
            raise SandboxError("need 0 <= http5xx <= requests and a non-negative response time")
        unit = self.world.unit(app, slot)
        self._store.inject(
            unit.resource_id,
            at or self.clock(),
            requests=requests,
            http5xx=http5xx,
            response_time_s=response_time_s,
        )

    def state(self) -> dict[str, Any]:
        """A JSON summary: every app's version, settings and health, and the TM weights."""
        state = summary(
            self.world,
            self.faults,
            self.clock(),
            self._fleet.url,
            self._doors.url,
            {
                "arm_url": self.arm_url,
                "authority_host": self.authority_host,
                "admin_url": self.admin_url,
                "artifacts": self.artifact_url("{version}"),
                "subscription_id": self.subscription_id,
            },
        )
        return {**state, "load": self.load.snapshot()}
