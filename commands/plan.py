"""--dry-run: the exact plan and its pre-checks, changing nothing."""

from __future__ import annotations

from dataclasses import dataclass

from commands.config.model import Environment, Freeze
from commands.jobs.base import JobTools
from commands.jobs.bluegreen import plan_steps
from commands.plan_canary import CanaryPlan, canary_plan
from commands.platform.base import EnvironmentState, public_url, target_of, target_url
from commands.platform.errors import PlatformError
from commands.probes.health import check_health


@dataclass(frozen=True)
class Plan:
    environment: str
    version: str
    live: str | None
    live_version: str | None
    target: str | None
    steps: tuple[str, ...]
    resources: tuple[str, ...]
    approvals: str
    rollback: str
    checks: tuple[tuple[str, bool, str], ...]
    canary: CanaryPlan | None = None

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks) and (self.canary is None or self.canary.ok)


async def make_plan(
    tools: JobTools,
    env: Environment,
    version: str,
    kind: str,
    freeze: Freeze | None,
    stages: tuple[int, ...] = (),
) -> Plan:
    """``kind`` "canary" adds the canary's plan (``stages``: as asked; empty: configured)."""
    checks: list[tuple[str, bool, str]] = []
    live = live_version = target = None
    state: EnvironmentState | None = None
    read_s = 0.0
    resources: list[str] = []
    try:
        started = tools.monotonic()
        state = await tools.platform.read_state(env)
        read_s = tools.monotonic() - started
        live, live_version, target = state.live, state.live_version, state.idle
        checks.append(("Azure", True, f"{live} serves {live_version}; {target} is idle"))
    except PlatformError as error:
        checks.append(("Azure", False, str(error)))
    if target:
        resources.append(target_of(env, target).resource_id)
        report = await check_health(tools.http, target_url(env, target), env.health)
        ok = all(c.ok for c in report.checks if c.name != "health")  # it still runs the old version
        checks.append((f"{target} health", ok, report.summary()))
    if env.topology == "traffic-manager":
        resources.append(f"Traffic Manager profile {env.azure.traffic_manager}")
    url = env.artifact.package_url_for(version)
    if url and env.artifact.check:
        try:
            answer = await tools.http.head(url, follow_redirects=True, timeout=10)
            checks.append(
                ("artifact", answer.status_code < 400, f"{url} answered {answer.status_code}")
            )
        except Exception as error:  # any transport failure: the artifact cannot be fetched
            checks.append(("artifact", False, f"{url} did not answer ({type(error).__name__})"))
    if freeze:
        checks.append(("freeze", True, f"{freeze.name} is overridden with --force"))
    required = env.approvals.required
    approvals = (
        f"{required} approval(s) from {', '.join(env.approvals.approvers)}" if required else "none"
    )
    switch = "swap back" if env.topology == "slots" else f"flip Traffic Manager back to {live}"
    rollback = f"{switch} ({live_version} stays on {target if env.topology == 'slots' else live})"
    canary = None
    if kind == "canary":
        out = "clear the ramp-up rule" if env.topology == "slots" else f"disable {target}"
        rollback = f"before promotion: {out}, {live} serves {live_version} alone; after: {rollback}"
        if state is not None and target and live:
            canary = await canary_plan(tools, env, state, target, stages, read_s)
    return Plan(
        environment=env.name,
        version=version,
        live=live,
        live_version=live_version,
        target=target,
        steps=tuple(plan_steps(kind, env.hooks)),
        resources=(*resources, f"public: {public_url(env)}"),
        approvals=approvals,
        rollback=rollback,
        checks=tuple(checks),
        canary=canary,
    )
