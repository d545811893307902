"""People steering a running canary from its card: who may do what, and handing it to the job.

Pause, Resume and Abort are for the environment's deployers and approvers; Promote (skipping
the rest of the analysis) for its approvers only. Every click is audited, refusals included.
"""

from __future__ import annotations

from commands import policy
from commands.deploy_audit import audit
from commands.deploy_results import Answer
from commands.jobs.base import JobTools
from commands.jobs.canary_control import Action
from commands.results import Refused
from commands.runner import Runner

DONE = {
    "pause": "Pausing the canary: it stops stepping and judging until someone resumes it.",
    "resume": "Resuming the canary: the stage's hold counts again from now.",
    "promote": "Promoting the canary: all traffic goes to the new version now.",
    "abort": "Aborting the canary: traffic goes back to the live version now.",
}


class Steering:
    def __init__(self, tools: JobTools, runner: Runner) -> None:
        self.tools = tools
        self.runner = runner

    async def steer(
        self, actor: str, deployment_id: str, action: Action, groups: policy.Groups
    ) -> Answer | Refused:
        tools = self.tools
        d = await tools.store.deployments.get(deployment_id)
        if d is None or d.kind != "canary":
            return Refused("that is not a canary deployment")
        env = tools.config.environments[d.environment]
        decision = (
            policy.may_promote(tools.config, env, actor, groups)
            if action == "promote"
            else policy.may_operate(tools.config, env, actor, groups)
        )
        if not decision.allowed:
            await audit(
                tools, actor, f"canary.{action}.refused", env.name, d.id, reason=decision.reason
            )
            return Refused(decision.reason, decision.ask)
        if d.state not in ("running", "paused") or not await self.runner.reachable(d.id):
            await audit(tools, actor, f"canary.{action}.refused", env.name, d.id, reason=d.state)
            return Refused(f"the canary is {d.state.replace('_', ' ')}, not running")
        await audit(tools, actor, f"canary.{action}", env.name, d.id)
        await self.runner.signal(d.id, action, actor)  # the job may run on another replica
        return Answer(DONE[action])
