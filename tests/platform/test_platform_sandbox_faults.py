"""Azure misbehaving (sandbox faults): each case ends in a typed error or a clean retry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from commands.config.model import Environment
from commands.platform.azure import AzurePlatform
from commands.platform.base import Deployable, TargetRef, site_of, targets_of
from commands.platform.errors import (
    Conflict,
    NotFound,
    PlatformTimeout,
    ServerError,
    SwapFailed,
    Throttled,
)
from commands.platform.sandbox import Sandbox

if TYPE_CHECKING:
    from conftest import Audit, MakePlatform, RecordingClock


async def test_failed_swap_is_typed_and_changes_nothing(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    staging = envs["staging"]
    await platform.put_version(
        targets_of(staging)["green"], Deployable.of(staging.artifact, "v1.2.0")
    )
    sandbox.faults.arm("swap_failed", match="slotsswap")
    with pytest.raises(SwapFailed) as caught:
        await platform.swap(site_of(staging), "green")
    error = caught.value
    assert (error.code, error.status, error.operation) == ("SwapFailed", 409, "wait for swap")
    assert str(error).startswith(
        "wait for swap on virtualqueue-staging/green → production failed: SwapFailed (HTTP 409): "
        "Failed to swap slot"
    )
    assert isinstance(error, Conflict)
    assert audit.outcomes("wait for swap") == [("error", "SwapFailed")]
    state = await platform.read_state(staging)
    assert (state.live_version, state.target("green").version) == ("v1.1.0", "v1.2.0")


async def test_throttling_is_retried_after_retry_after(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    sandbox: Sandbox,
    audit: Audit,
    clock: RecordingClock,
) -> None:
    sandbox.faults.arm("throttle", times=2, match="config/appsettings/list", retry_after=2)
    green = targets_of(envs["dev"])["green"]
    await platform.put_version(green, Deployable.of(envs["dev"].artifact, "v1.2.0"))
    assert clock.sleeps == [2.0, 2.0]
    assert audit.outcomes("read app settings") == [
        ("retry", "TooManyRequests"),
        ("retry", "TooManyRequests"),
        ("ok", None),
    ]
    assert (await platform.read_site(green)).version == "v1.2.0"


async def test_throttling_that_outlasts_the_retries_is_typed(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    platform = await make_platform(retries=1, retry=None)
    sandbox.faults.arm("throttle", times=0, match="virtualqueue-dev/restart", retry_after=1)
    with pytest.raises(Throttled) as caught:
        await platform.restart(targets_of(envs["dev"])["production"])
    assert caught.value.retry_after_s == 1.0


async def test_server_errors_exhaust_the_retries(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    sandbox: Sandbox,
    audit: Audit,
    clock: RecordingClock,
) -> None:
    sandbox.faults.arm("server_error", times=0, match="virtualqueue-dev/restart")
    with pytest.raises(ServerError) as caught:
        await platform.restart(targets_of(envs["dev"])["production"])
    assert (caught.value.status, caught.value.code) == (500, "InternalServerError")
    assert audit.outcomes("restart") == [("retry", "InternalServerError")] * 3 + [
        ("error", "InternalServerError")
    ]
    assert len(clock.sleeps) == 3
    assert clock.sleeps == sorted(clock.sleeps)  # backing off


async def test_a_hanging_request_times_out(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    platform = await make_platform(timeout=0.3)
    sandbox.faults.arm("hang", times=0, match="trafficmanagerprofiles")
    try:
        with pytest.raises(PlatformTimeout, match=r"no answer within 0\.3 s"):
            await platform.read_state(envs["prod"])
    finally:
        sandbox.faults.clear()
    assert audit.outcomes("read traffic manager profile") == [("error", "Timeout")]
    assert (await platform.read_state(envs["prod"])).live == "blue"


async def test_a_hung_read_is_sent_again_after_the_attempt_timeout(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    platform = await make_platform(timeout=10, attempt_timeout=0.3)
    sandbox.faults.arm("hang", times=1, match="trafficmanagerprofiles", seconds=35)
    assert (await platform.read_state(envs["prod"])).live == "blue"
    assert audit.outcomes("read traffic manager profile") == [("retry", "Timeout"), ("ok", None)]
    assert sandbox.faults.hanging == 1  # the first request is still held


async def test_a_hung_restart_is_sent_again(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    platform = await make_platform(timeout=10, attempt_timeout=0.3)
    sandbox.faults.arm("hang", times=1, match="virtualqueue-dev/restart", seconds=35)
    await platform.restart(targets_of(envs["dev"])["production"])
    assert audit.outcomes("restart") == [("retry", "Timeout"), ("ok", None)]


async def test_a_slow_write_is_waited_for_not_sent_again(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    """A weight PATCH abandoned and repeated could land after a later one and undo it."""
    platform = await make_platform(timeout=10, attempt_timeout=0.1)
    sandbox.faults.arm("hang", times=1, match="azureendpoints/canary", seconds=0.5)
    await platform.set_split(envs["prod"], {"blue": 95, "canary": 5})
    assert audit.outcomes("update traffic manager endpoint")[-1] == ("ok", None)
    assert ("retry", "Timeout") not in audit.outcomes("update traffic manager endpoint")
    # read back with ordinary timeouts: 0.1 s attempts are the write's test, not the read's
    reader = await make_platform()
    assert (await reader.read_state(envs["prod"])).split["canary"] == 5.0


async def test_a_500_on_the_swap_post_is_decided_by_re_reading(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    staging = envs["staging"]
    sandbox.faults.arm("server_error", times=1, match="slotsswap")
    await platform.swap(site_of(staging), "green")
    assert audit.outcomes("swap") == [("error", "InternalServerError"), ("ok", None)]
    assert (await platform.read_state(staging)).live_version == "v1.0.0"
    posts = [
        r for r in sandbox.arm_requests if r.method == "POST" and "slotsswap" in r.path.lower()
    ]
    assert [r.status for r in posts] == [500, 202]


async def test_a_throttled_swap_post_is_sent_again(
    platform: AzurePlatform,
    envs: dict[str, Environment],
    sandbox: Sandbox,
    clock: RecordingClock,
) -> None:
    sandbox.faults.arm("throttle", times=1, match="slotsswap", retry_after=1)
    await platform.swap(site_of(envs["staging"]), "green")
    assert clock.sleeps == [1.0]
    assert (await platform.read_state(envs["staging"])).live_version == "v1.0.0"


async def test_slow_swap_is_polled_to_the_end_and_poll_errors_resume(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    staging = envs["staging"]
    sandbox.faults.arm("slow_lro", match="slotsswap", polls=4)
    sandbox.faults.arm("server_error", times=1, match="operationresults")
    await platform.swap(site_of(staging), "green")
    assert audit.outcomes("wait for swap") == [("retry", "InternalServerError"), ("ok", None)]
    assert (await platform.read_state(staging)).live_version == "v1.0.0"


async def test_a_swap_that_never_finishes_times_out(
    make_platform: MakePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    platform = await make_platform(swap_timeout=0.3, polling_interval=0.02)
    sandbox.faults.arm("slow_lro", match="slotsswap", polls=0)  # held until released
    try:
        with pytest.raises(PlatformTimeout) as caught:
            await platform.swap(site_of(envs["staging"]), "green")
    finally:
        sandbox.faults.release_lro()
    assert caught.value.operation == "wait for swap"


async def test_throttled_weight_change_is_retried(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox, audit: Audit
) -> None:
    sandbox.faults.arm("throttle", times=1, match="azureendpoints/canary", retry_after=0)
    await platform.set_split(envs["prod"], {"blue": 95, "canary": 5})
    assert ("retry", "TooManyRequests") in audit.outcomes("update traffic manager endpoint")
    assert (await platform.read_state(envs["prod"])).split["canary"] == 5.0


async def test_missing_resources_are_not_found(platform: AzurePlatform, sandbox: Sandbox) -> None:
    ghost = TargetRef(sandbox.subscription_id, "rg-virtualqueue-dev", "ghost-app")
    with pytest.raises(NotFound) as caught:
        await platform.restart(ghost)
    assert caught.value.resource == "ghost-app"
    with pytest.raises(NotFound):
        await platform.read_site(ghost.slot_ref("green"))
