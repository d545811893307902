from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.console.overlay import on_sandbox
from commands.config import config_from_mapping
from commands.platform.sandbox import Sandbox, SandboxSystem

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sandbox_mapping() -> AsyncIterator[dict[str, Any]]:
    async with Sandbox.start(SandboxSystem.reference()) as sb:
        yield sb.config_mapping()


def _example() -> dict[str, Any]:
    mapping: dict[str, Any] = yaml.safe_load((ROOT / "deploybot.example.yml").read_text())
    return mapping


def _a_users_file() -> dict[str, Any]:
    """deploybot.example.yml as a team would have made it their own."""
    user = _example()
    prod = user["environments"]["prod"]
    prod["azure"].update(subscription="0000-real", traffic_manager="shop-tm")
    prod["urls"] = {"public": "https://shop.example.com"}
    prod["approvals"]["required"] = 1
    prod["health"]["watch"] = "10m"
    prod["canary"]["metrics"] = {"source": "prometheus", "url": "https://prom.example.com"}
    prod["hooks"] = {"pre_switch": {"url": "https://ci.example.com/smoke"}}
    user["environments"]["qa"] = copy.deepcopy(user["environments"]["dev"])
    user["environments"]["qa"]["aliases"] = ["test"]
    user["freezes"].append(
        {"name": "qa-only", "environments": ["test"], "weekly": {"days": ["mon"]}}
    )
    user["freezes"].append(
        {"name": "qa-and-prod", "environments": ["qa", "prod"], "weekly": {"days": ["tue"]}}
    )
    return user


def test_the_example_on_the_sandbox_is_the_sandboxs_reference(
    sandbox_mapping: dict[str, Any],
) -> None:
    overlaid, warnings = on_sandbox(_example(), sandbox_mapping)
    for name, env in overlaid["environments"].items():
        local = sandbox_mapping["environments"][name]
        assert env["artifact"] == local["artifact"]  # the sandbox's artifact host
        assert env["urls"] == local["urls"]
        assert env["azure"] == local["azure"]
    assert warnings == []
    config_from_mapping(overlaid, "overlaid example")  # a valid configuration


def test_a_users_policies_stay_and_where_it_runs_comes_from_the_sandbox(
    sandbox_mapping: dict[str, Any],
) -> None:
    user = _a_users_file()
    before = copy.deepcopy(user)
    overlaid, warnings = on_sandbox(user, sandbox_mapping)
    assert user == before, "the user's mapping is not modified"
    local = sandbox_mapping["environments"]["prod"]
    prod = overlaid["environments"]["prod"]
    assert prod["azure"] == local["azure"]
    assert prod["urls"] == local["urls"]
    assert prod["artifact"]["package_url"] == local["artifact"]["package_url"]
    assert prod["canary"]["metrics"] == local["canary"]["metrics"]
    # …and everything the team decided stays theirs:
    assert prod["approvals"]["required"] == 1
    assert prod["health"]["watch"] == "10m"
    assert prod["canary"]["stages"] == before["environments"]["prod"]["canary"]["stages"]
    assert prod["hooks"] == {"pre_switch": {"url": "https://ci.example.com/smoke"}}
    assert overlaid["roles"] == before["roles"]
    assert overlaid["incidents"] == before["incidents"]
    # qa is not in the sandbox: left out, with the freezes that only it had.
    assert list(overlaid["environments"]) == ["dev", "staging", "prod"]
    freezes = {f["name"]: f["environments"] for f in overlaid["freezes"]}
    assert freezes == {
        "weekend": ["prod"],
        "year-end": ["prod", "staging"],
        "qa-and-prod": ["prod"],
    }
    assert warnings == [
        "environment prod: its hooks (pre_switch) still call your own URLs",
        "environment qa: the sandbox has no such environment, so it is left out "
        "(the sandbox has dev, staging, prod)",
        "freeze qa-only: it covers only environments left out, so it is left out too",
    ]
    config = config_from_mapping(overlaid, "overlaid user file")
    assert config.environments["prod"].approvals.required == 1


def test_a_different_topology_is_the_sandboxs_and_said(sandbox_mapping: dict[str, Any]) -> None:
    user = _example()
    dev = user["environments"]["dev"]
    dev["topology"] = "traffic-manager"
    dev["azure"] = {"subscription": "s", "resource_group": "rg", "traffic_manager": "tm"}
    overlaid, warnings = on_sandbox(user, sandbox_mapping)
    assert overlaid["environments"]["dev"]["topology"] == "slots"
    assert overlaid["environments"]["dev"]["azure"]["app"] == "virtualqueue-dev"
    assert warnings == ["environment dev: the sandbox runs it as slots, not traffic-manager"]
