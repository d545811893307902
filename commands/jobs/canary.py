"""Canary: the new version goes to the idle target, then takes a growing share of real traffic.

Each stage (``canary_stage.StageRun``) sets the share (Traffic Manager weights p : 100 − p, or
a ``rampUpRules`` entry on production for a slot), waits until the share is effective, then
judges the canary against the live baseline every interval (``commands.canary.judge``). A
breach takes the canary out of traffic; the last stage passed, promotion sends everything to
the new version, as blue-green's switch does. Every stage and its start are persisted: a
restart resumes the stage with the time it has left. People steer it from the card: Pause,
Resume, Promote, Abort.
"""

from __future__ import annotations

from commands.jobs.base import StepFailed
from commands.jobs.bluegreen import BlueGreenJob
from commands.jobs.canary_stage import StageBreach, StageRun
from commands.jobs.canary_traffic import stage_plan
from commands.jobs.context import CanaryProgress, traffic_to
from commands.jobs.notes import Note, StageNote, SwitchNote, TextNote
from commands.jobs.steps import Step
from commands.jobs.switching import Switcher
from commands.jobs.watch import Breach
from commands.platform.base import site_of


class CanaryJob(BlueGreenJob):
    async def run(self) -> None:
        d = await self.reload()
        if d.state == "rolling_back":
            await self._take_out(self.ctx.rollback_reason or "resumed after a restart")
            return
        if d.state in ("queued", "running"):
            await self.set_state("running")
        try:
            await self._prepare_target()
        except StepFailed as failure:
            await self._failed_before_switch(failure)
            return
        try:
            await self.run_step(Step.CANARY, self._stages)
            await self.run_step(Step.PROMOTE, self._promote)
            await self.run_step(Step.VERIFY, self._verify)
        except Breach as breach:
            chart = breach.chart if isinstance(breach, StageBreach) else None
            await self._take_out(str(breach), requested_by=breach.requested_by, chart=chart)
            return
        except StepFailed as failure:
            await self._take_out(str(failure))
            return
        await self.finish("succeeded", live_version=self.deployment.version)

    async def _stages(self) -> str:
        plan = stage_plan(self.env, self.deployment)
        progress = self.ctx.canary or CanaryProgress()
        for index in range(progress.stage, len(plan)):
            stage = plan[index]
            if stage.percent >= 100:
                break
            if await StageRun(self, index, stage, len(plan)).run() == "promote now":
                return f"promoted by a person at stage {index + 1} ({stage.percent} %)"
        passed = sum(1 for s in plan if s.percent < 100)
        return f"{passed} stage(s) passed"

    # -- promotion and taking the canary out --------------------------------------------------
    async def _promote(self) -> str:
        env, target, version = self.env, self.target, self.deployment.version
        if env.topology == "slots":
            # Clear the rule first: while the swap runs, all traffic is on one version.
            await self.tools.platform.set_ramp_up(site_of(env), str(env.azure.slot), 0.0)
        switcher = Switcher(self)
        took, how = await switcher.switch_to(target, version)
        await self.save(switched=True, traffic=traffic_to(target))
        await self.note(SwitchNote(how, self.ctx.live, target, took, switcher.effective()))
        return f"{how} in {took:.2f}s"

    async def _take_out(
        self, why: str, *, requested_by: str | None = None, chart: StageNote | None = None
    ) -> None:
        """Before promotion: traffic back on the live target alone. After: blue-green's
        rollback (switch back and verify). ``chart``: the breached stage's, for the thread."""
        if self.ctx.switched:
            await self._roll_back(why, requested_by=requested_by)
            return
        previous, live = self.ctx.previous_version, str(self.ctx.live)
        requested_by = requested_by or self.ctx.rollback_requested_by
        await self.save(rollback_reason=why, rollback_requested_by=requested_by)
        await self.set_state("rolling_back", error=None if requested_by else {"message": why})
        because = f"aborted by <@{requested_by}>" if requested_by else why
        notes: list[Note] = [chart] if chart is not None else []
        notes.append(TextNote(f"Taking the canary out of traffic: {because}"))

        async def work() -> str:
            started = self.tools.monotonic()
            try:
                await self.tools.platform.set_split(self.env, {live: 100.0})
            finally:  # told after the traffic change: rendering a chart must not delay it
                for note in notes:
                    await self.note(note)
            took = self.tools.monotonic() - started
            await self.save(traffic=traffic_to(live), rollback_note=f"canary out, {took:.2f}s")
            await self.tools.reporter.changed(self.id)
            await self._until_public_serves(str(previous), "with the canary out")
            return f"canary out of traffic in {took:.2f}s; production serves {previous}"

        try:
            await self.run_step(Step.ROLLBACK, work)
        except StepFailed as failure:
            await self.note(TextNote(f"Taking the canary out did not complete: {failure}."))
            await self.finish(
                "failed", live_version=None, error=f"{why}; rollback failed: {failure}"
            )
            return
        await self.finish("rolled_back", live_version=previous, error=None if requested_by else why)
