"""What is checked when a deploy is asked for, so nobody approves a request that cannot run:
the promotion order, the artifact answers, the target the version goes to is running and
healthy. Each costs a database read or one HTTP call; the job checks again when it starts."""

from __future__ import annotations

from commands.config.model import Environment
from commands.jobs.base import JobTools
from commands.platform.base import target_url
from commands.platform.state import EnvironmentState
from commands.probes.health import HealthChecker


async def missing_promotions(tools: JobTools, env: Environment, version: str) -> list[str]:
    """The environments of ``env.requires`` where ``version`` has not succeeded yet."""
    deployments = tools.store.deployments
    return [name for name in env.requires if not await deployments.has_succeeded(name, version)]


def promotion_refusal(version: str, missing: list[str]) -> str:
    where = " and ".join(missing)
    there = "there" if len(missing) == 1 else "in each"
    return f"{version} has not succeeded on {where}; deploy it {there} first or add --force"


async def cannot_run(
    tools: JobTools, env: Environment, version: str, state: EnvironmentState, *, busy: bool
) -> str | None:
    """Why a deploy of ``version`` to ``env`` cannot run, or None when it can. While the
    environment is ``busy`` only the artifact is checked: which target the version goes to,
    and how it is then, is known only when the job holding it has finished."""
    if busy:
        return await _artifact_missing(tools, env, version)
    target = state.idle
    if target is None:
        return f"I cannot tell which target of {env.name} is idle"
    found = state.target(target).state
    if found.lower() != "running":
        return f"{target} (where the new version goes) is {found}, not Running"
    health = await HealthChecker(tools.http, target_url(env, target), env.health).health()
    if not health.ok:
        return f"{target} (where the new version goes) is not healthy: {health.detail}"
    return await _artifact_missing(tools, env, version)


async def _artifact_missing(tools: JobTools, env: Environment, version: str) -> str | None:
    url = env.artifact.package_url_for(version)
    if url is None or not env.artifact.check:
        return None
    try:
        answer = await tools.http.head(url, follow_redirects=True, timeout=10)
    except Exception as error:  # any transport failure means the artifact cannot be fetched
        return f"the artifact {url} did not answer ({type(error).__name__})"
    if answer.status_code >= 400:
        return f"the artifact {url} answered {answer.status_code}"
    return None
