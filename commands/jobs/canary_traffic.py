"""A canary's stages (percent and hold) and the share of traffic the public host really shows."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from commands.config.model import CanaryStage, Environment
from commands.jobs.steps import canary_percents
from storage import Deployment

SAMPLES = 40


def stage_plan(env: Environment, deployment: Deployment) -> tuple[CanaryStage, ...]:
    """The stages the canary was created with; each keeps the configured hold of the stage
    with the same percent, else the longest configured hold (``--stages`` may invent some)."""
    return stages_for(env, canary_percents(deployment))


def stages_for(env: Environment, percents: tuple[int, ...]) -> tuple[CanaryStage, ...]:
    """``percents`` (the configured stages when empty) with their holds, as ``stage_plan``."""
    configured = {s.percent: s.hold for s in env.canary.stages}
    longest = max((s.hold for s in env.canary.stages), default=timedelta(0))
    return tuple(
        CanaryStage(percent=p, hold=configured.get(p, longest))
        for p in percents or tuple(configured)
    )


async def observed_share(http: httpx.AsyncClient, url: str, version: str) -> float | None:
    """Percent of ``SAMPLES`` requests to ``url``'s /health answered by ``version``."""

    async def one() -> str | None:
        try:
            answer = await http.get(f"{url}/health", timeout=5)
            return str(answer.json().get("version"))
        except (httpx.HTTPError, ValueError, AttributeError):
            return None

    seen = [v for v in await asyncio.gather(*(one() for _ in range(SAMPLES))) if v is not None]
    if not seen:
        return None
    return 100.0 * sum(1 for v in seen if v == version) / len(seen)
