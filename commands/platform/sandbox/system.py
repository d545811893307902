"""What the sandbox holds at start: subscriptions, Web Apps and slots, Traffic Manager profiles.

A ``SandboxSystem`` is a frozen description; ``resources.World`` is its live, mutable twin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.platform.sandbox.errors import SandboxError

REFERENCE_SUBSCRIPTION = "8f2c1a3e-5b7d-4c9e-a1f0-3d6b2e4c8a17"
REFERENCE_TENANT = "5c6f0d2b-9a41-4e7c-b3d8-1f2a7e9c4b60"
REFERENCE_CLIENT = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,59}$")


@dataclass(frozen=True)
class SlotSpec:
    name: str
    version: str


@dataclass(frozen=True)
class SiteSpec:
    """A Web App: its production slot runs ``version``; ``slots`` are its deployment slots."""

    subscription: str
    resource_group: str
    name: str
    version: str
    slots: tuple[SlotSpec, ...] = ()
    location: str = "West Europe"
    sticky_settings: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointSpec:
    """An AzureEndpoints entry of a profile, pointing at the Web App named ``app``."""

    name: str
    app: str
    weight: int
    enabled: bool
    priority: int = 1


@dataclass(frozen=True)
class ProfileSpec:
    subscription: str
    resource_group: str
    name: str
    endpoints: tuple[EndpointSpec, ...]
    routing_method: str = "Weighted"
    ttl: int = 60


@dataclass(frozen=True)
class SandboxSystem:
    subscription_id: str
    sites: tuple[SiteSpec, ...]
    profiles: tuple[ProfileSpec, ...] = ()
    tenant_id: str = REFERENCE_TENANT
    client_id: str = REFERENCE_CLIENT
    artifact_folder: str = "virtualqueue"

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for site in self.sites:
            for word in (site.name, site.resource_group, *(s.name for s in site.slots)):
                if not _NAME.match(word):
                    raise SandboxError(f"{word!r} is not a valid Azure resource name")
            if site.name.lower() in seen:
                raise SandboxError(f"Web App {site.name!r} is defined twice (names are global)")
            seen.add(site.name.lower())
            if any(s.name.lower() == "production" for s in site.slots):
                raise SandboxError(f"{site.name}: 'production' is not a deployment slot name")
        for profile in self.profiles:
            for endpoint in profile.endpoints:
                if endpoint.app.lower() not in seen:
                    raise SandboxError(
                        f"profile {profile.name}: endpoint {endpoint.name} targets unknown "
                        f"Web App {endpoint.app!r}"
                    )
                if not 1 <= endpoint.weight <= 1000:
                    raise SandboxError(f"profile {profile.name}: weight must be 1..1000")

    @classmethod
    def reference(cls) -> SandboxSystem:
        """The Virtual Queue system of ``commands/config/reference.yml``."""
        sub = REFERENCE_SUBSCRIPTION
        prod_rg = "rg-virtualqueue-prod"
        return cls(
            subscription_id=sub,
            sites=(
                SiteSpec(
                    sub,
                    "rg-virtualqueue-dev",
                    "virtualqueue-dev",
                    "v1.1.0",
                    slots=(SlotSpec("green", "v1.0.0"),),
                ),
                SiteSpec(
                    sub,
                    "rg-virtualqueue-staging",
                    "virtualqueue-staging",
                    "v1.1.0",
                    slots=(SlotSpec("green", "v1.0.0"),),
                ),
                SiteSpec(sub, prod_rg, "virtualqueue-production-blue", "v1.1.0"),
                SiteSpec(sub, prod_rg, "virtualqueue-production-green", "v1.0.0"),
                SiteSpec(sub, prod_rg, "virtualqueue-production-canary", "v1.1.0"),
            ),
            profiles=(
                ProfileSpec(
                    sub,
                    prod_rg,
                    "virtualqueue-production-tm",
                    endpoints=(
                        EndpointSpec("blue", "virtualqueue-production-blue", 100, True),
                        EndpointSpec("green", "virtualqueue-production-green", 1, False),
                        EndpointSpec("canary", "virtualqueue-production-canary", 1, False),
                    ),
                ),
            ),
        )

    @classmethod
    def fleet(
        cls,
        n: int,
        *,
        subscription: str = "bench",
        resource_group: str = "bench",
        prefix: str = "bench-app-",
        version: str = "v1.1.0",
    ) -> SandboxSystem:
        """The reference system plus ``n`` plain Web Apps ``bench-app-001``… (no slots)."""
        if not 0 <= n <= 2000:
            raise SandboxError("fleet size must be 0..2000")
        ref = cls.reference()
        bench = tuple(
            SiteSpec(subscription, resource_group, f"{prefix}{i:03d}", version)
            for i in range(1, n + 1)
        )
        return cls(
            subscription_id=ref.subscription_id,
            sites=ref.sites + bench,
            profiles=ref.profiles,
            tenant_id=ref.tenant_id,
            client_id=ref.client_id,
        )
