"""The dry run of a canary: its stages and the routing each sets, how long it holds and is
judged, each metric query with a pre-check, and how fast a breach puts traffic back.

Values only; ``bot.render.plan_canary`` says them. Nothing here changes Azure: the routing is
computed as ``set_split`` would compute it (``commands.platform.traffic``), not applied.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.config.model import Environment
from commands.jobs.base import JobTools
from commands.jobs.canary_traffic import stages_for
from commands.plan_metrics import QueryCheck, metric_checks
from commands.platform.state import EnvironmentState
from commands.platform.traffic import weight_for


@dataclass(frozen=True)
class StagePlan:
    percent: int
    hold_s: float
    routing: str
    """What Azure is asked for: Traffic Manager weights per endpoint, or the ramp-up rule."""


@dataclass(frozen=True)
class BreachTiming:
    """Worst case from a breach to traffic back on the old version."""

    interval_s: float
    consecutive_failures: int
    switch_s: float
    """An Azure round trip measured now (the read of the environment's state)."""
    switch_limit_s: float
    """What the switch may take with retries (``azure_requests.timeout``)."""
    ttl_s: float
    """Traffic Manager's DNS TTL; 0 with slots (the rule applies at App Service's front end)."""

    @property
    def detect_s(self) -> float:
        return self.interval_s * self.consecutive_failures

    @property
    def total_s(self) -> float:
        return self.detect_s + self.switch_s + self.ttl_s


@dataclass(frozen=True)
class CanaryPlan:
    target: str
    baseline: str
    stages: tuple[StagePlan, ...]
    promotion: str
    interval_s: float
    max_extensions: int
    source: str
    queries: tuple[QueryCheck, ...]
    breach: BreachTiming

    @property
    def ok(self) -> bool:
        return all(q.ok for q in self.queries)

    @property
    def judged_s(self) -> float:
        """Every stage held once: the canary's shortest run, without extensions."""
        return sum(s.hold_s for s in self.stages)

    @property
    def longest_s(self) -> float:
        """Every stage extended as often as allowed (each extension adds its hold)."""
        return self.judged_s * (1 + self.max_extensions)


def routing(env: Environment, target: str, baseline: str, percent: int) -> str:
    if env.topology == "slots":
        return f"rampUpRules on production: {target} reroutePercentage {percent}"
    weights = f"{target} {weight_for(percent)} · {baseline} {weight_for(100 - percent)}"
    others = [n for n in env.target_names if n not in (target, baseline)]
    return weights + (f"; {', '.join(others)} disabled" if others else "")


def promotion(env: Environment, target: str, baseline: str) -> str:
    if env.topology == "slots":
        return f"clear the rampUpRules entry, then swap {target} into production"
    return f"{target} {weight_for(100)}, {baseline} disabled (the blue-green switch)"


async def canary_plan(
    tools: JobTools,
    env: Environment,
    state: EnvironmentState,
    target: str,
    percents: tuple[int, ...],
    read_s: float,
) -> CanaryPlan:
    """``state``: as read now; ``read_s``: how long that read took."""
    baseline = str(state.live)
    cfg = env.canary
    stages = tuple(
        StagePlan(s.percent, s.hold.total_seconds(), routing(env, target, baseline, s.percent))
        for s in stages_for(env, percents)
        if s.percent < 100
    )
    ttl = float(state.dns_ttl_s or 0) if env.topology == "traffic-manager" else 0.0
    return CanaryPlan(
        target=target,
        baseline=baseline,
        stages=stages,
        promotion=promotion(env, target, baseline),
        interval_s=cfg.interval.total_seconds(),
        max_extensions=cfg.max_extensions,
        source=cfg.metrics.source,
        queries=await metric_checks(tools, env, target, baseline),
        breach=BreachTiming(
            interval_s=cfg.interval.total_seconds(),
            consecutive_failures=cfg.rollback.consecutive_failures,
            switch_s=read_s,
            switch_limit_s=tools.config.azure_requests.timeout.total_seconds(),
            ttl_s=ttl,
        ),
    )
