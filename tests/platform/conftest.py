"""The local Azure sandbox over HTTPS, a real credential for it, and AzurePlatform on top."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from azure.identity.aio import ClientSecretCredential

from commands.config import config_from_mapping
from commands.config.model import Environment
from commands.platform.azure import AzurePlatform
from commands.platform.calls import RetryPolicy
from commands.platform.sandbox import Sandbox, SandboxSystem


class RecordingClock:
    """Real monotonic time, but ``sleep`` (retry backoff) is recorded and not waited for."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


@dataclass
class Audit:
    calls: list[tuple[str, str, str, float, str | None]] = field(default_factory=list)

    def __call__(
        self, operation: str, resource: str, outcome: str, duration_s: float, code: str | None
    ) -> None:
        self.calls.append((operation, resource, outcome, duration_s, code))

    def outcomes(self, operation: str) -> list[tuple[str, str | None]]:
        return [(c[2], c[4]) for c in self.calls if c[0] == operation]


MakePlatform = Callable[..., Awaitable[AzurePlatform]]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox.start(SandboxSystem.reference(), port=0, seed=7) as sb:
        yield sb


@pytest.fixture
def envs(sandbox: Sandbox) -> dict[str, Environment]:
    return dict(config_from_mapping(sandbox.config_mapping()).environments)


@pytest.fixture
async def credential(sandbox: Sandbox) -> AsyncIterator[ClientSecretCredential]:
    async with ClientSecretCredential(
        sandbox.tenant_id,
        sandbox.client_id,
        sandbox.client_secret,
        authority=sandbox.authority_host,
        connection_verify=str(sandbox.ca_file),
    ) as cred:
        yield cred


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
async def make_platform(
    sandbox: Sandbox, credential: ClientSecretCredential, clock: RecordingClock, audit: Audit
) -> AsyncIterator[MakePlatform]:
    made: list[AzurePlatform] = []

    async def make(**options: object) -> AzurePlatform:
        use = options.pop("credential", credential)
        settings: dict[str, object] = {
            "arm_url": sandbox.arm_url,
            "ca_file": sandbox.ca_file,
            "timeout": 10.0,
            "polling_interval": 0,
            "retry": RetryPolicy(retries=3, base_delay_s=0.01, max_delay_s=0.05),
            "clock": clock,
            "jitter": lambda: 0.5,
            "on_call": audit,
        }
        settings.update(options)
        platform = await AzurePlatform.create(use, **settings)  # type: ignore[arg-type]
        made.append(platform)
        return platform

    yield make
    for platform in made:
        await platform.close()


@pytest.fixture
async def platform(make_platform: MakePlatform) -> AzurePlatform:
    return await make_platform()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client
