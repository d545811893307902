"""What an environment serves now, read from Azure (the platform), not from deploybot's rows.

The incident card and the Roll back button promise "from what is live"; someone may have
changed the site outside deploybot, so the platform is asked. When it does not answer in
time, the caller falls back to what deploybot last deployed and says so.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from commands.config.model import Config
from commands.platform.base import Platform
from commands.platform.errors import PlatformError

log = logging.getLogger(__name__)
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class LiveReading:
    version: str | None
    from_platform: bool
    problem: str | None = None


async def read_live(
    platform: Platform, config: Config, environment: str, timeout_s: float = READ_TIMEOUT_S
) -> LiveReading:
    env = config.environments.get(environment)
    if env is None:
        return LiveReading(None, False, f"{environment} is not configured")
    try:
        state = await asyncio.wait_for(platform.read_state(env), timeout_s)
    except (PlatformError, TimeoutError) as error:
        log.warning("could not read %s's live version from Azure: %s", environment, error)
        return LiveReading(None, False, str(error) or "no answer in time")
    return LiveReading(state.live_version, True)
