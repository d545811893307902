"""/deploy status and history against live Azure state."""

from __future__ import annotations

from bot.local import LocalStack


async def test_status_shows_live_versions_traffic_and_monitor_status(stack: LocalStack) -> None:
    await stack.emu.user("U0DAVE").command("/deploy", "status", channel="#deploys")
    status = await stack.ws.wait_for_ephemeral("U0DAVE", "Environments")
    assert "blue `v1.1.0` 100% (Online)" in status.text
    assert "green `v1.0.0` 0% (Disabled)" in status.text
    assert "production `v1.1.0` 100%" in status.text


async def test_status_under_load_reads_azure_once_and_audits_no_reads(stack: LocalStack) -> None:
    before = len(stack.sandbox.arm_requests)
    for _ in range(5):
        await stack.emu.user("U0DAVE").command("/deploy", "status prod", channel="#deploys")
    await stack.services.idle()
    profile_reads = [
        r for r in stack.sandbox.arm_requests[before:] if "trafficmanagerprofiles" in r.path.lower()
    ]
    assert len(profile_reads) == 1
    assert await stack.services.store.audit.query(actions=["azure.call"]) == []


async def test_history_after_a_deploy(stack: LocalStack) -> None:
    await stack.emu.user("U0ALICE").command("/deploy", "dev v1.2.0", channel="#deploys")
    await stack.services.idle()
    await stack.emu.user("U0DAVE").command("/deploy", "history dev", channel="#deploys")
    history = await stack.ws.wait_for_ephemeral("U0DAVE", "Recent deployments")
    assert "*dev*  `v1.1.0` → `v1.2.0`  deploy bluegreen by <@U0ALICE> — succeeded" in history.text
