"""A slot swap that is never repeated blindly.

Throttled or refused requests never reached App Service and are simply sent again. When the
POST may or may not have been executed (a 5xx, a dropped connection), the app settings of both
sides are read again: settings that moved across mean the swap happened. Polling the
operation is safe to repeat, so a failed poll resumes from the continuation token.

Azure carries a swap on after the client that asked for it has gone. ``on_accepted`` hands
the operation's continuation token to the caller as soon as Azure accepts the request, so
that a process started after a crash can ``settle_swap``: wait for that very operation and
learn how it ended before deciding anything.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Literal

from azure.core.polling import AsyncLROPoller

from commands.platform.arm import Arm
from commands.platform.base import SwapAccepted, SwapOutcome
from commands.platform.errors import NotFound, ServerError, SwapFailed, Unreachable
from commands.platform.gather import gather_all
from commands.platform.targets import PRODUCTION, TargetRef

Settings = tuple[dict[str, str], dict[str, str]]


async def swap_slots(
    arm: Arm,
    site: TargetRef,
    slot: str,
    target_slot: str = PRODUCTION,
    *,
    timeout_s: float,
    jitter: Callable[[], float] = random.random,
    on_accepted: SwapAccepted | None = None,
) -> None:
    caller = arm.caller
    source = site.slot_ref(slot)
    destination = site if target_slot == PRODUCTION else site.slot_ref(target_slot)
    resource = f"{source.label} → {target_slot}"
    begin = arm.swap_starter(site, slot, target_slot)

    before = await _settings(arm, source, destination)
    poller: AsyncLROPoller[None] | None = None
    for attempt in range(caller.retry.retries + 1):
        try:
            poller = await caller.call("swap", resource, begin, safe=False)
            break
        except (ServerError, Unreachable) as error:
            outcome = swap_outcome(before, await _settings(arm, source, destination))
            if outcome == "swapped":
                return
            if outcome == "unknown" or attempt == caller.retry.retries:
                raise
            await caller.clock.sleep(caller.retry.delay(attempt, error.retry_after_s, jitter()))
    assert poller is not None
    token = poller.continuation_token()
    if on_accepted is not None:
        await on_accepted(token)
    first: list[AsyncLROPoller[None]] = [poller]

    async def wait() -> Any:
        current = first.pop() if first else await begin(continuation_token=token)
        return await current.result()

    await caller.call("wait for swap", resource, wait, safe=True, timeout_s=timeout_s)


async def settle_swap(
    arm: Arm,
    site: TargetRef,
    slot: str,
    token: str,
    target_slot: str = PRODUCTION,
    *,
    timeout_s: float,
) -> tuple[SwapOutcome, str]:
    """Wait for a swap accepted earlier (perhaps by a process that has died) to end.

    ``unknown`` when Azure no longer knows the operation or the token cannot be read.
    """
    resource = f"{site.slot_ref(slot).label} → {target_slot}"
    begin = arm.swap_starter(site, slot, target_slot)

    try:
        first = [await begin(continuation_token=token)]  # rebuilt from the token, no request
    except (ValueError, TypeError, KeyError) as unreadable:
        return "unknown", f"the stored operation cannot be read ({unreadable})"

    async def wait() -> Any:
        current = first.pop() if first else await begin(continuation_token=token)
        return await current.result()

    try:
        await arm.caller.call("wait for swap", resource, wait, safe=True, timeout_s=timeout_s)
    except SwapFailed as failed:
        return "failed", failed.message
    except NotFound:
        return "unknown", "Azure no longer knows the operation"
    return "succeeded", "the swap completed"


async def _settings(arm: Arm, source: TargetRef, destination: TargetRef) -> Settings:
    src, dst = await gather_all(arm.app_settings(source), arm.app_settings(destination))
    return src, dst


def swap_outcome(before: Settings, after: Settings) -> Literal["swapped", "not swapped", "unknown"]:
    """Settings that differed between the two sides and changed places mean a swap happened."""
    (src, dst), (src_after, dst_after) = before, after
    differing = [k for k in sorted(set(src) | set(dst)) if src.get(k) != dst.get(k)]
    if not differing:
        return "unknown"
    exchanged = any(
        src_after.get(k) == dst.get(k) and dst_after.get(k) == src.get(k) for k in differing
    )
    return "swapped" if exchanged else "not swapped"
