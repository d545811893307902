"""Where things live: the Azure resources of an environment and the URLs that reach them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from commands.config.model import Artifact, Environment

PRODUCTION = "production"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise ValueError(
            f"{version!r} is not a version: use letters, digits and . _ + - (at most 64 characters)"
        )
    return version


@dataclass(frozen=True)
class TargetRef:
    """One deployable unit: a Web App (``slot=None``, its production slot) or one of its slots."""

    subscription: str
    resource_group: str
    app: str
    slot: str | None = None

    @property
    def site_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Web/sites/{self.app}"
        )

    @property
    def resource_id(self) -> str:
        return f"{self.site_id}/slots/{self.slot}" if self.slot else self.site_id

    @property
    def label(self) -> str:
        return f"{self.app}/{self.slot}" if self.slot else self.app

    @property
    def site(self) -> TargetRef:
        """The production slot of the same Web App."""
        return TargetRef(self.subscription, self.resource_group, self.app)

    def slot_ref(self, slot: str) -> TargetRef:
        return TargetRef(self.subscription, self.resource_group, self.app, slot)


@dataclass(frozen=True)
class Deployable:
    """What to put on a target: a package URL or a container image, and the version marker."""

    version: str
    package_url: str | None
    image: str | None
    version_setting: str = "APP_VERSION"

    def __post_init__(self) -> None:
        check_version(self.version)
        if (self.package_url is None) == (self.image is None):
            raise ValueError("a deployable needs exactly one of package_url or image")

    @classmethod
    def of(cls, artifact: Artifact, version: str) -> Deployable:
        check_version(version)  # before the template is filled: a bad version never reaches a URL
        return cls(
            version=version,
            package_url=artifact.package_url_for(version),
            image=artifact.image_for(version),
            version_setting=artifact.version_setting,
        )


def targets_of(env: Environment) -> dict[str, TargetRef]:
    """The environment's deployable units by name: production + slot, or the colours."""
    az = env.azure
    if env.topology == "slots":
        assert az.app is not None  # both guaranteed by Environment
        assert az.slot is not None
        site = TargetRef(az.subscription, az.resource_group, az.app)
        return {PRODUCTION: site, az.slot: site.slot_ref(az.slot)}
    return {
        name: TargetRef(az.subscription, az.resource_group, app) for name, app in az.apps.items()
    }


def target_of(env: Environment, name: str) -> TargetRef:
    targets = targets_of(env)
    if name not in targets:
        raise ValueError(
            f"environment {env.name} has no target {name!r}; it has {', '.join(targets)}"
        )
    return targets[name]


def site_of(env: Environment) -> TargetRef:
    """The Web App of a ``slots`` environment (its production slot)."""
    if env.topology != "slots":
        raise ValueError(f"environment {env.name} uses {env.topology}, not slots")
    return targets_of(env)[PRODUCTION]


def default_host(ref: TargetRef) -> str:
    return f"{ref.app}-{ref.slot}.azurewebsites.net" if ref.slot else f"{ref.app}.azurewebsites.net"


def target_url(env: Environment, name: str) -> str:
    """Base URL that reaches one target directly (``urls.targets`` wins over the Azure name)."""
    ref = target_of(env, name)
    override = env.urls.targets.get(name)
    return (override or f"https://{default_host(ref)}").rstrip("/")


def public_url(env: Environment) -> str:
    """Base URL of the environment's production entry point."""
    if env.urls.public:
        return env.urls.public.rstrip("/")
    if env.topology == "slots":
        return f"https://{default_host(site_of(env))}"
    return f"https://{env.azure.traffic_manager}.trafficmanager.net"
