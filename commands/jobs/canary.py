"""Canary: the new version goes to the idle target, then takes a growing share of real traffic.

Each stage sets the share (Traffic Manager weights p : 100 − p, or a ``rampUpRules`` entry on
production for a slot), waits until the share is effective, then judges the canary against the
live baseline every interval (``commands.canary.judge``). A breach takes the canary out of
traffic; the last stage passed, promotion sends everything to the new version, as blue-green's
switch does. Every stage and its start are persisted: a restart resumes the stage with the time
it has left. People steer it from the card: Pause, Resume, Promote, Abort.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from commands.canary.judge import StageJudge
from commands.canary.judgement import Judgement, Verdict, shown
from commands.config.model import CanaryStage
from commands.jobs.base import StepFailed
from commands.jobs.bluegreen import BlueGreenJob
from commands.jobs.canary_chart import StageChart
from commands.jobs.canary_control import Control, control_of
from commands.jobs.canary_traffic import observed_share, stage_plan
from commands.jobs.context import CanaryProgress, MetricRow, traffic_to
from commands.jobs.notes import SwitchNote, TextNote
from commands.jobs.steps import Step
from commands.jobs.stopping import ShuttingDown, wait_any
from commands.jobs.switching import Switcher
from commands.jobs.watch import Breach, rollback_signal
from commands.platform.base import MetricSeries, public_url, site_of, target_url
from commands.probes.errors import MetricsUnavailable
from commands.probes.health import check_health, wait_for_version
from commands.probes.metrics import MetricReader, metric_reader

SHARED_CHECKS = ("health", "ready", "live", "database", "redis")


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
            await self._take_out(str(breach), requested_by=breach.requested_by)
            return
        except StepFailed as failure:
            await self._take_out(str(failure))
            return
        await self.finish("succeeded", live_version=self.deployment.version)

    # -- the stages --------------------------------------------------------------------------
    async def _stages(self) -> str:
        plan = stage_plan(self.env, self.deployment)
        progress = self.ctx.canary or CanaryProgress()
        for index in range(progress.stage, len(plan)):
            stage = plan[index]
            if stage.percent >= 100:
                break
            verdict = await self._run_stage(index, stage, len(plan))
            if verdict == "promote now":
                return f"promoted by a person at stage {index + 1} ({stage.percent} %)"
        passed = sum(1 for s in plan if s.percent < 100)
        return f"{passed} stage(s) passed"

    async def _run_stage(self, index: int, stage: CanaryStage, count: int) -> str:
        tools, env = self.tools, self.env
        progress = self.ctx.canary or CanaryProgress()
        resumed_here = progress.stage == index and progress.stage_started_at is not None
        if not resumed_here:
            progress = CanaryProgress(stage=index, hold_s=stage.hold.total_seconds())
        live, target = str(self.ctx.live), self.target
        await tools.platform.set_split(
            env, {target: float(stage.percent), live: float(100 - stage.percent)}
        )
        started = (
            progress.stage_started_at
            if resumed_here and progress.stage_started_at
            else tools.clock()
        )
        effective = await self._effective(stage.percent)
        progress = replace(progress, stage_started_at=started, effective=effective)
        await self._save_progress(
            progress, traffic=((target, stage.percent), (live, 100 - stage.percent))
        )
        left = progress.hold_s - (tools.clock() - started).total_seconds()
        how = "resumed with" if resumed_here else "started:"
        await self.note(
            TextNote(
                f"Stage {index + 1} of {count} {how} {stage.percent} % of traffic on {target} "
                f"({'effective' if effective else 'weight set, not yet effective'}); "
                f"{max(0.0, left):.0f}s to judge it."
            )
        )
        return await self._judge_stage(index, stage, progress)

    async def _judge_stage(self, index: int, stage: CanaryStage, progress: CanaryProgress) -> str:
        tools, env = self.tools, self.env
        canary_cfg = env.canary
        judge = StageJudge(
            canary_cfg.rollback,
            share=stage.percent / 100,
            extensions_left=canary_cfg.max_extensions - progress.extensions,
        )
        reader = metric_reader(canary_cfg.metrics, env, http=tools.http, platform=tools.platform)
        signal = rollback_signal(tools, self.id)
        interval = canary_cfg.interval.total_seconds()
        window_start = tools.clock()
        rules = canary_cfg.rollback
        chart = StageChart(
            f"{env.name} {self.deployment.version} · stage {index + 1} · {stage.percent} % canary",
            rules.max_error_rate,
            rules.max_p95_latency_ms,
        )
        assert progress.stage_started_at is not None
        while True:
            end = progress.stage_started_at.timestamp() + progress.hold_s
            left = end - tools.clock().timestamp()
            if left <= 0 and not progress.paused:
                verdict = judge.at_stage_end()
                progress = await self._record(progress, verdict)
                if verdict.verdict == Verdict.ROLLBACK:
                    await self.note(chart.note(f"Stage {index + 1} failed: {verdict.rule}."))
                    raise Breach(str(verdict.rule), "canary")
                if verdict.verdict == Verdict.EXTEND:
                    progress = replace(
                        progress,
                        hold_s=progress.hold_s + stage.hold.total_seconds(),
                        extensions=progress.extensions + 1,
                    )
                    await self._save_progress(progress)
                    await self.note(TextNote(f"Stage {index + 1} extended: {verdict.rule}."))
                    continue
                if verdict.verdict == Verdict.PAUSE:
                    progress = await self._pause(progress, verdict.question or str(verdict.rule))
                    continue
                await self.note(chart.note(self._stage_summary(index, stage, verdict)))
                return "next"
            await wait_any((signal, tools.stopping), min(interval, left) if left > 0 else interval)
            if tools.stopping.is_set():
                raise ShuttingDown("canary")  # the stage and its start are stored
            control = control_of(tools, self.id)
            if control is not None:
                outcome = await self._obey(control, progress)
                if outcome == "promote now":
                    return outcome
                progress = self.ctx.canary or progress
                continue
            if progress.paused:
                continue
            now = tools.clock()
            observed = await self._observe(judge, reader, window_start, now)
            window_start = now
            if observed is None:
                continue
            seen, canary, baseline = observed
            chart.add(now, canary, baseline)
            progress = await self._record(progress, seen)
            if seen.verdict == Verdict.ROLLBACK:
                await self.note(chart.note(f"Stage {index + 1} breached: {seen.rule}."))
                raise Breach(str(seen.rule), "canary")
            if seen.verdict == Verdict.PAUSE:
                progress = await self._pause(progress, seen.question or str(seen.rule))

    async def _observe(
        self, judge: StageJudge, reader: MetricReader, start: datetime, end: datetime
    ) -> tuple[Judgement, MetricSeries, MetricSeries] | None:
        target, live = self.target, str(self.ctx.live)
        try:
            canary, baseline = await asyncio.gather(
                reader.read(target, start, end), reader.read(live, start, end)
            )
        except MetricsUnavailable as missing:
            await self.audit("metrics.unavailable", error=str(missing))
            return None
        canary_failing, baseline_failing = await asyncio.gather(
            self._failing(target), self._failing(live)
        )
        verdict = judge.observe(
            canary, baseline, canary_failing=canary_failing, baseline_failing=baseline_failing
        )
        return verdict, canary, baseline

    async def _failing(self, target: str) -> frozenset[str]:
        checks = tuple(c for c in self.env.health.checks if c in SHARED_CHECKS) or ("health",)
        quick = self.env.health.model_copy(update={"checks": checks})
        report = await check_health(self.tools.http, target_url(self.env, target), quick)
        return frozenset(c.name for c in report.failures)

    async def _record(self, progress: CanaryProgress, verdict: Judgement) -> CanaryProgress:
        rows = tuple(
            MetricRow(
                row.label,
                shown(row.metric, row.canary),
                shown(row.metric, row.baseline),
                shown(row.metric, row.threshold),
                row.ok is not False,
            )
            for row in verdict.rows
        )
        rule = verdict.rule if verdict.verdict != Verdict.CONTINUE else progress.rule
        progress = replace(progress, rows=rows, rule=rule)
        await self._save_progress(progress)
        return progress

    async def _pause(self, progress: CanaryProgress, why: str) -> CanaryProgress:
        progress = replace(progress, paused=why)
        await self._save_progress(progress)
        await self.set_state("paused")
        await self.note(TextNote(f"Canary paused: {why}"))
        return progress

    async def _obey(self, control: Control, progress: CanaryProgress) -> str:
        who = f"<@{control.user}>"
        if control.action == "abort":
            raise Breach("aborted", "request", requested_by=control.user)
        if control.action == "promote":
            await self.note(
                TextNote(f"{who} promoted the canary: the remaining analysis is skipped.")
            )
            await self.audit("canary.promoted", actor=control.user)
            return "promote now"
        if control.action == "pause" and not progress.paused:
            await self._pause(progress, f"paused by {who}")
            return "paused"
        if control.action == "resume" and progress.paused:
            # The hold counts again from now: the paused time is not judged.
            resumed = replace(progress, paused=None, stage_started_at=self.tools.clock())
            await self._save_progress(resumed)
            await self.set_state("running")
            await self.note(TextNote(f"{who} resumed the canary."))
            return "resumed"
        return "ignored"

    def _stage_summary(self, index: int, stage: CanaryStage, verdict: Judgement) -> str:
        table = "; ".join(
            f"{r.label} {shown(r.metric, r.canary)} vs {shown(r.metric, r.baseline)}"
            for r in verdict.rows
            if r.canary is not None
        )
        return f"Stage {index + 1} ({stage.percent} %) passed: {table or 'no figures'}."

    async def _effective(self, percent: int) -> bool:
        """Whether the public host shows about ``percent`` % on the new version."""
        if self.env.topology == "slots":
            return True  # the ramp-up rule applies at App Service's front end, at once
        for _ in range(3):
            share = await observed_share(
                self.tools.http, public_url(self.env), self.deployment.version
            )
            if share is not None and abs(share - percent) <= max(10.0, percent / 2):
                return True
            await self.tools.sleep(1.0)
        return False

    async def _save_progress(
        self, progress: CanaryProgress, traffic: tuple[tuple[str, float], ...] | None = None
    ) -> None:
        if traffic is None:
            await self.save(canary=progress)
        else:
            await self.save(canary=progress, traffic=traffic, traffic_effective=progress.effective)
        await self.tools.reporter.changed(self.id)

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

    async def _take_out(self, why: str, *, requested_by: str | None = None) -> None:
        """Before promotion: traffic back on the live target alone. After: blue-green's
        rollback (switch back and verify)."""
        if self.ctx.switched:
            await self._roll_back(why, requested_by=requested_by)
            return
        previous, live = self.ctx.previous_version, str(self.ctx.live)
        requested_by = requested_by or self.ctx.rollback_requested_by
        await self.save(rollback_reason=why, rollback_requested_by=requested_by)
        await self.set_state("rolling_back", error=None if requested_by else {"message": why})
        because = f"aborted by <@{requested_by}>" if requested_by else why
        await self.note(TextNote(f"Taking the canary out of traffic: {because}"))

        async def work() -> str:
            started = self.tools.monotonic()
            await self.tools.platform.set_split(self.env, {live: 100.0})
            took = self.tools.monotonic() - started
            await self.save(traffic=traffic_to(live), rollback_note=f"canary out, {took:.2f}s")
            await self.tools.reporter.changed(self.id)
            # Said only once seen, as blue-green's rollback does.
            seen = await wait_for_version(
                self.tools.http,
                public_url(self.env),
                str(previous),
                timeout_s=30,
                interval_s=0.2,
                sleep=self.tools.sleep,
            )
            if not seen.ok:
                raise StepFailed(f"with the canary out, production {seen.detail}")
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
