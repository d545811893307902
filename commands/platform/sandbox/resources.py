"""The live resource model: Web Apps with their slots, and Traffic Manager profiles.

A *unit* is one host: a Web App's production slot or one of its deployment slots. Units keep
their host name (and their fake server) for life; what runs on them (``Process``) moves on a swap.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.platform.sandbox.prometheus import ProcessCounters
from commands.platform.sandbox.system import SiteSpec

PACKAGE_SETTING = "WEBSITE_RUN_FROM_PACKAGE"
VERSION_SETTING = "APP_VERSION"
PRODUCTION = "production"
# Site config that stays with its slot on a swap (routing rules belong to production's host).
SLOT_SPECIFIC_CONFIG = frozenset({"experiments"})


def default_site_config() -> dict[str, Any]:
    return {
        "numberOfWorkers": 1,
        "linuxFxVersion": "DOTNETCORE|8.0",
        "alwaysOn": True,
        "http20Enabled": True,
        "minTlsVersion": "1.2",
        "ftpsState": "FtpsOnly",
        "healthCheckPath": "/health",
        "use32BitWorkerProcess": False,
        "webSocketsEnabled": False,
        "experiments": {"rampUpRules": []},
    }


def implied_version(settings: dict[str, str], config: dict[str, Any]) -> str:
    """The version a (re)started app reports: APP_VERSION, else the image tag or package name."""
    if settings.get(VERSION_SETTING):
        return settings[VERSION_SETTING]
    fx = str(config.get("linuxFxVersion") or "")
    if fx.upper().startswith("DOCKER|") and ":" in fx:
        return fx.rsplit(":", 1)[1]
    package = settings.get(PACKAGE_SETTING, "")
    if package:
        return package_version(package)
    return "unknown"


def package_version(url: str) -> str:
    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".zip", ".war", ".jar"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass
class Process:
    """The app as started: its version, when it started, and its own Prometheus counters."""

    version: str
    started_at: datetime
    package_missing: bool = False  # its WEBSITE_RUN_FROM_PACKAGE could not be fetched at start
    slow_start_s: float = 0.0  # the slow-start fault of its host when it (re)started
    counters: ProcessCounters = field(default_factory=ProcessCounters)


@dataclass(frozen=True)
class Deployment:
    id: str
    version: str
    message: str
    deployer: str
    at: datetime


class Unit:
    def __init__(self, site: Site, slot: str | None, settings: dict[str, str], now: datetime):
        self.site = site
        self.slot = slot
        self.settings = settings
        self.config = default_site_config()
        self.state = "Running"
        self.process = Process(implied_version(settings, self.config), now)
        self.deployments: list[Deployment] = []
        self.served: Counter[str] = Counter()
        self.modified_at = now

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.site.name.lower(), self.slot.lower() if self.slot else None)

    @property
    def slot_name(self) -> str:
        return self.slot or PRODUCTION

    @property
    def label(self) -> str:
        """``app`` or ``app/slot``: the X-Served-By header and the slot's ARM ``name``."""
        return f"{self.site.name}/{self.slot}" if self.slot else self.site.name

    @property
    def resource_id(self) -> str:
        return f"{self.site.id}/slots/{self.slot}" if self.slot else self.site.id

    @property
    def host_name(self) -> str:
        base = f"{self.site.name}-{self.slot}" if self.slot else self.site.name
        return f"{base}.azurewebsites.net".lower()

    @property
    def scm_host_name(self) -> str:
        return self.host_name.replace(".azurewebsites.net", ".scm.azurewebsites.net")


@dataclass
class Preview:
    """Phase one of a swap with preview: ``source`` runs with ``target``'s sticky settings."""

    source: Unit
    target: Unit
    saved_settings: dict[str, str]


class Site:
    def __init__(self, spec: SiteSpec, now: datetime, artifact_url: Callable[[str], str]):
        self.subscription = spec.subscription
        self.resource_group = spec.resource_group
        self.name = spec.name
        self.location = spec.location
        self.sticky_settings: list[str] = list(spec.sticky_settings)
        self.sticky_connection_strings: list[str] = []
        self.preview: Preview | None = None
        self.swap_status: dict[str, str] | None = None
        self.busy_operation: str | None = None

        def settings(version: str) -> dict[str, str]:
            return {PACKAGE_SETTING: artifact_url(version), VERSION_SETTING: version}

        self.production = Unit(self, None, settings(spec.version), now)
        self.slots: dict[str, Unit] = {
            s.name.lower(): Unit(self, s.name, settings(s.version), now) for s in spec.slots
        }

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/sites/{self.name}"
        )

    def unit(self, slot: str | None) -> Unit | None:
        if slot is None or slot.lower() == PRODUCTION:
            return self.production
        return self.slots.get(slot.lower())

    def units(self) -> list[Unit]:
        return [self.production, *self.slots.values()]


@dataclass
class Endpoint:
    name: str
    type_segment: str  # "azureEndpoints", "externalEndpoints" or "nestedEndpoints"
    properties: dict[str, Any]


@dataclass
class Profile:
    subscription: str
    resource_group: str
    name: str
    properties: dict[str, Any]
    endpoints: list[Endpoint]

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/trafficManagerProfiles/{self.name}"
        )

    def endpoint(self, type_segment: str, name: str) -> Endpoint | None:
        for endpoint in self.endpoints:
            if endpoint.type_segment.lower() == type_segment.lower() and (
                endpoint.name.lower() == name.lower()
            ):
                return endpoint
        return None
