"""``deploybot sandbox`` in its own process, driven by a separate process using only the SDK."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from commands.platform.sandbox.cli import READY_LINE

REPO = Path(__file__).resolve().parents[2]

CLIENT = """
import asyncio, json, os
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.trafficmanager.aio import TrafficManagerManagementClient
from azure.mgmt.trafficmanager.models import Endpoint
from azure.mgmt.web.aio import WebSiteManagementClient

async def main():
    base = os.environ["AZURE_RESOURCE_MANAGER_URL"]
    sub = os.environ["AZURE_SUBSCRIPTION_ID"]
    rg, profile = "rg-virtualqueue-prod", "virtualqueue-production-tm"
    async with (
        DefaultAzureCredential() as cred,
        WebSiteManagementClient(cred, sub, base_url=base, retry_total=0) as web,
        TrafficManagerManagementClient(cred, sub, base_url=base, retry_total=0) as tm,
    ):
        sites = [site.name async for site in web.web_apps.list()]
        green = Endpoint(weight=100, endpoint_status="Enabled")
        await tm.endpoints.update(rg, profile, "AzureEndpoints", "green", green)
        blue = Endpoint(endpoint_status="Disabled")
        await tm.endpoints.update(rg, profile, "AzureEndpoints", "blue", blue)
        found = await tm.profiles.get(rg, profile)
        endpoints = {e.name: [e.weight, e.endpoint_status.value] for e in found.endpoints}
    print(json.dumps({"sites": sites, "endpoints": endpoints}))

asyncio.run(main())
"""


def _base_env() -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AZURE_") and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    }
    keep["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), keep.get("PYTHONPATH")]))
    return keep


def _read_env_file(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _gone(path: str) -> bool:
    return not Path(path).exists()


async def _read_until_ready(stream: asyncio.StreamReader) -> list[str]:
    lines = []
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError("the sandbox exited before it was ready:\n" + "".join(lines))
        lines.append(line)
        if line.strip() == READY_LINE:
            return lines


async def test_sandbox_process_serves_a_separate_sdk_process(tmp_path: Path) -> None:
    env_file, config_out = tmp_path / "sandbox.env", tmp_path / "deploybot.yml"
    sandbox = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "commands.platform.sandbox.cli",
        "--env-file",
        str(env_file),
        "--config-out",
        str(config_out),
        cwd=tmp_path,
        env=_base_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert sandbox.stdout is not None
        banner = await asyncio.wait_for(_read_until_ready(sandbox.stdout), 60)
        variables = _read_env_file(env_file)
        assert set(variables) >= {
            "AZURE_RESOURCE_MANAGER_URL",
            "AZURE_AUTHORITY_HOST",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_SUBSCRIPTION_ID",
            "SSL_CERT_FILE",
        }
        assert any(variables["AZURE_RESOURCE_MANAGER_URL"] in line for line in banner)
        assert "environments:" in _text(config_out)

        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            cwd=tmp_path,
            env={**_base_env(), **variables},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(client.communicate(), 60)
        assert client.returncode == 0, err.decode()
        result = json.loads(out)
        assert "virtualqueue-staging" in result["sites"]
        assert result["endpoints"]["green"] == [100, "Enabled"]
        assert result["endpoints"]["blue"] == [100, "Disabled"]
    finally:
        if sandbox.returncode is None:
            sandbox.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(sandbox.communicate(), 30)
    assert sandbox.returncode == 0
    assert "Stopping the sandbox." in rest.decode()
    assert _gone(variables["SSL_CERT_FILE"])  # its temporary folder was removed
