"""Reading state through the real aio SDK clients against the sandbox over HTTPS."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from azure.core.credentials import AccessToken
from azure.identity.aio import ClientSecretCredential

from commands.config.model import Environment
from commands.platform.azure import AzurePlatform
from commands.platform.base import TargetRef, targets_of
from commands.platform.errors import AuthFailed, InvalidRequest, NotFound, PlatformError
from commands.platform.sandbox import Sandbox

if TYPE_CHECKING:
    from conftest import Audit, MakePlatform

ROOT = Path(__file__).resolve().parents[2]


async def test_read_state_slots(platform: AzurePlatform, envs: dict[str, Environment]) -> None:
    state = await platform.read_state(envs["staging"])
    assert (state.environment, state.topology, state.live, state.idle) == (
        "staging",
        "slots",
        "production",
        "green",
    )
    production, green = state.targets
    assert (production.name, production.version, production.traffic_percent) == (
        "production",
        "v1.1.0",
        100.0,
    )
    assert (green.name, green.version, green.traffic_percent, green.enabled) == (
        "green",
        "v1.0.0",
        0.0,
        False,
    )
    assert green.ref == targets_of(envs["staging"])["green"]
    assert production.state == "Running"
    assert green.host and green.host != production.host
    assert state.live_version == "v1.1.0"


async def test_read_state_traffic_manager(
    platform: AzurePlatform, envs: dict[str, Environment], audit: Audit
) -> None:
    state = await platform.read_state(envs["prod"])
    assert (state.topology, state.live, state.idle, state.live_version) == (
        "traffic-manager",
        "blue",
        "green",
        "v1.1.0",
    )
    assert state.split == {"blue": 100.0, "green": 0.0, "canary": 0.0}
    by_name = {t.name: t for t in state.targets}
    assert {n: t.version for n, t in by_name.items()} == {
        "blue": "v1.1.0",
        "green": "v1.0.0",
        "canary": "v1.1.0",
    }
    assert {n: (t.enabled, t.weight) for n, t in by_name.items()} == {
        "blue": (True, 100),
        "green": (False, 1),
        "canary": (False, 1),
    }
    assert by_name["green"].monitor_status == "Disabled"
    assert by_name["blue"].monitor_status in ("Online", "CheckingEndpoint")
    # every request was audited once, successfully
    assert {c[2] for c in audit.calls} == {"ok"}
    assert ("read traffic manager profile", "virtualqueue-production-tm") in {
        c[:2] for c in audit.calls
    }


async def test_read_site_and_states_concurrently(
    platform: AzurePlatform, envs: dict[str, Environment]
) -> None:
    states = await platform.read_states(list(envs.values()))
    assert [s.live_version for s in states] == ["v1.1.0", "v1.1.0", "v1.1.0"]
    info = await platform.read_site(targets_of(envs["dev"])["green"])
    assert (info.version, info.state) == ("v1.0.0", "Running")


async def test_unknown_app_is_not_found(
    platform: AzurePlatform, envs: dict[str, Environment]
) -> None:
    staging = envs["staging"]
    missing = staging.model_copy(
        update={"azure": staging.azure.model_copy(update={"app": "no-such-app"})}
    )
    with pytest.raises(NotFound) as caught:
        await platform.read_state(missing)
    assert caught.value.status == 404
    assert "no-such-app" in str(caught.value)


async def test_wrong_secret_is_auth_failed(sandbox: Sandbox, make_platform: MakePlatform) -> None:
    async with ClientSecretCredential(
        sandbox.tenant_id,
        sandbox.client_id,
        "wrong-secret",
        authority=sandbox.authority_host,
        connection_verify=str(sandbox.ca_file),
    ) as wrong:
        platform = await make_platform(credential=wrong)
        ref = TargetRef(sandbox.subscription_id, "rg-virtualqueue-dev", "virtualqueue-dev")
        with pytest.raises(AuthFailed) as caught:
            await platform.read_site(ref)
    assert isinstance(caught.value, PlatformError)
    assert caught.value.code == "CredentialFailed"
    assert "was not authorised: CredentialFailed (HTTP 401)" in str(caught.value)
    assert "Invalid client secret" in str(caught.value)


class ForgedCredential:
    """Any AsyncTokenCredential can be injected; this one hands out a token ARM never issued."""

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("forged", int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> ForgedCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


async def test_a_token_arm_refuses_is_auth_failed(
    sandbox: Sandbox, make_platform: MakePlatform
) -> None:
    platform = await make_platform(credential=ForgedCredential())
    with pytest.raises(AuthFailed) as caught:
        await platform.restart(
            TargetRef(sandbox.subscription_id, "rg-virtualqueue-dev", "virtualqueue-dev")
        )
    assert (caught.value.code, caught.value.status) == ("InvalidAuthenticationToken", 401)


async def test_an_unusable_ca_file_fails_at_creation(
    make_platform: MakePlatform, tmp_path: Path
) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    for ca_file in (tmp_path / "missing.pem", tmp_path / "ca.pem"):
        with pytest.raises(InvalidRequest, match="InvalidCaFile"):
            await make_platform(ca_file=ca_file)


async def test_closed_platform_refuses_calls(make_platform: MakePlatform, sandbox: Sandbox) -> None:
    platform = await make_platform()
    await platform.close()
    with pytest.raises(PlatformError, match="the platform is closed"):
        await platform.read_site(TargetRef(sandbox.subscription_id, "rg", "app"))


WIRING = textwrap.dedent(
    """
    import asyncio, os, sys
    from commands.config import config_from_text
    from commands.platform.azure import AzurePlatform

    async def main() -> None:
        config = config_from_text(sys.stdin.read())
        platform = await AzurePlatform.create(          # credential=None: DefaultAzureCredential
            arm_url=os.environ["AZURE_RESOURCE_MANAGER_URL"],
            ca_file=os.environ["SSL_CERT_FILE"],
            polling_interval=0,
        )
        async with platform:
            state = await platform.read_state(config.environments["prod"])
        print(state.live, state.live_version)

    asyncio.run(main())
    """
)


async def test_default_azure_credential_wiring(sandbox: Sandbox) -> None:
    """Production wiring: DefaultAzureCredential from the AZURE_* variables the sandbox prints."""
    env = {**sandbox.env(), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WIRING,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(process.communicate(sandbox.config_yaml().encode()), 60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert out.decode().split() == ["blue", "v1.1.0"]
