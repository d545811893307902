"""One canary stage: set the share, then judge the canary every interval until the stage ends.

``StageRun.run`` answers "next" when the stage passed, "promote now" when a person promoted
it, and raises ``Breach`` when the judge (or a person's Abort) takes the canary out. Every
change is stored in the job's ``CanaryProgress`` with the judge's memory, so a restart resumes
the stage with the time it has left and the analysis where it was.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from commands.canary.judge import StageJudge
from commands.canary.judgement import Judgement, Verdict
from commands.canary.memory import JudgeMemory
from commands.config.model import CanaryStage
from commands.jobs.canary_chart import StageChart
from commands.jobs.canary_control import Control, control_of
from commands.jobs.canary_observe import Observer
from commands.jobs.canary_rows import metric_rows, stage_summary
from commands.jobs.canary_traffic import observed_share
from commands.jobs.context import CanaryProgress
from commands.jobs.notes import StageNote, TextNote
from commands.jobs.stopping import ShuttingDown, wait_any
from commands.jobs.watch import Breach, rollback_signal
from commands.platform.base import public_url
from commands.probes.errors import MetricsUnavailable
from commands.probes.metrics import metric_reader

if TYPE_CHECKING:
    from commands.jobs.base import Job

Outcome = Literal["next", "promote now"]


class StageBreach(Breach):
    """The judge takes the canary out. The stage's chart goes to the thread once traffic is
    back on the old version: rendering it must not delay the rollback."""

    def __init__(self, verdict: Judgement, chart: StageNote) -> None:
        super().__init__(str(verdict.rule), verdict.metric.value if verdict.metric else "canary")
        self.chart = chart


class StageRun:
    def __init__(self, job: Job, index: int, stage: CanaryStage, count: int) -> None:
        self.job, self.index, self.stage, self.count = job, index, stage, count
        self.name = f"Stage {index + 1}"
        self.tools, self.env = job.tools, job.env
        self.rules = self.env.canary.rollback
        self.progress = job.ctx.canary or CanaryProgress()

    async def run(self) -> Outcome:
        tools, job, progress = self.tools, self.job, self.progress
        resumed = progress.stage == self.index and progress.stage_started_at is not None
        if not resumed:
            progress = CanaryProgress(stage=self.index, hold_s=self.stage.hold.total_seconds())
        memory = JudgeMemory.from_json(progress.judge) if resumed else None
        live, target, percent = str(job.ctx.live), job.target, self.stage.percent
        await tools.platform.set_split(self.env, {target: float(percent), live: 100.0 - percent})
        effective = await self._effective(percent)
        # A new stage's hold starts once its share is seen (Traffic Manager is DNS); a resumed
        # one keeps its start, so it has only the time it had left.
        started = (progress.stage_started_at if resumed else None) or tools.clock()
        # An empty memory from the start: after a restart, none means an older version's row.
        judged = progress.judge if resumed else JudgeMemory().to_json()
        self.progress = replace(
            progress, stage_started_at=started, effective=effective, judge=judged
        )
        await self._save(traffic=((target, percent), (live, 100 - percent)))
        left = self.progress.hold_s - (tools.clock() - started).total_seconds()
        how = "resumed with" if resumed else "started:"
        analysis = ""
        if resumed:
            analysis = (
                f" The analysis carries on: {memory.judged_intervals} interval(s) judged so far."
                if memory is not None
                else " The analysis of this stage starts again: what it had seen was not kept."
            )
        await job.note(
            TextNote(
                f"Stage {self.index + 1} of {self.count} {how} {percent} % of traffic on {target} "
                f"({'effective' if effective else 'weight set, not yet effective'}); "
                f"{max(0.0, left):.0f}s to judge it.{analysis}"
            )
        )
        judge = StageJudge(
            self.rules,
            share=percent / 100,
            extensions_left=self.env.canary.max_extensions - self.progress.extensions,
            memory=memory,
        )
        return await self._judge(judge)

    async def _judge(self, judge: StageJudge) -> Outcome:
        tools, env, job = self.tools, self.env, self.job
        reader = metric_reader(env.canary.metrics, env, http=tools.http, platform=tools.platform)
        observer = Observer(env, tools.http, reader, canary=job.target, baseline=str(job.ctx.live))
        signal = rollback_signal(tools, job.id)
        interval = env.canary.interval.total_seconds()
        chart = StageChart(
            f"{env.name} {job.deployment.version} · {self.name.lower()} · "
            f"{self.stage.percent} % canary",
            self.rules.max_error_rate,
            self.rules.max_p95_latency_ms,
        )
        window_start = tools.clock()
        await observer.start(window_start)
        while True:
            assert self.progress.stage_started_at is not None
            now = tools.clock()
            end = self.progress.stage_started_at.timestamp() + self.progress.hold_s
            left = end - now.timestamp()
            if left <= 0 and not self.progress.paused:
                if await self._at_stage_end(judge, chart):
                    return "next"
                continue
            # Intervals keep their length whatever reading the last one took.
            due = interval - (now - window_start).total_seconds()
            if self.progress.paused:
                due = interval  # nothing is judged: wait for a click
            await wait_any((signal, tools.stopping), min(due, left) if left > 0 else due)
            if tools.stopping.is_set():
                raise ShuttingDown("canary")  # the stage, its start and the judge's memory are kept
            control = control_of(tools, job.id)
            if control is not None:
                outcome = await self._obey(control)
                if outcome == "promote now":
                    return outcome
                if outcome == "resumed":  # the paused time is not judged
                    window_start = tools.clock()
                    await observer.start(window_start)
                continue
            now = tools.clock()
            if self.progress.paused or (now - window_start).total_seconds() < interval:
                continue
            start, window_start = window_start, now
            try:
                seen = await observer.interval(start, now)
            except MetricsUnavailable as missing:
                await job.audit("metrics.unavailable", error=str(missing))
                continue
            chart.add(now, seen.canary, seen.baseline)
            verdict = judge.observe(
                seen.canary,
                seen.baseline,
                canary_failing=seen.canary_failing,
                baseline_failing=seen.baseline_failing,
            )
            await self._record(verdict, judge)
            if verdict.verdict == Verdict.ROLLBACK:
                raise StageBreach(verdict, chart.note(f"{self.name} breached: {verdict.rule}."))
            if verdict.verdict == Verdict.PAUSE:
                await self._pause(verdict.question or str(verdict.rule))

    async def _at_stage_end(self, judge: StageJudge, chart: StageChart) -> bool:
        """Decide the stage; True when it passed."""
        verdict = judge.at_stage_end()
        await self._record(verdict, judge)
        if verdict.verdict == Verdict.ROLLBACK:
            raise StageBreach(verdict, chart.note(f"{self.name} failed: {verdict.rule}."))
        if verdict.verdict == Verdict.EXTEND:
            # A whole hold more from now, even when the end is long past (the bot was down).
            assert self.progress.stage_started_at is not None
            elapsed = (self.tools.clock() - self.progress.stage_started_at).total_seconds()
            self.progress = replace(
                self.progress,
                hold_s=max(self.progress.hold_s, elapsed) + self.stage.hold.total_seconds(),
                extensions=self.progress.extensions + 1,
            )
            await self._save()
            await self.job.note(TextNote(f"{self.name} extended: {verdict.rule}."))
            return False
        if verdict.verdict == Verdict.PAUSE:
            await self._pause(verdict.question or str(verdict.rule))
            return False
        await self.job.note(chart.note(stage_summary(self.index, self.stage, verdict)))
        return True

    async def _record(self, verdict: Judgement, judge: StageJudge) -> None:
        rule = verdict.rule if verdict.verdict != Verdict.CONTINUE else self.progress.rule
        self.progress = replace(
            self.progress,
            rows=metric_rows(verdict, self.rules),
            rule=rule,
            judge=judge.memory().to_json(),
        )
        await self._save()

    async def _pause(self, why: str) -> None:
        self.progress = replace(self.progress, paused=why)
        await self._save()
        await self.job.set_state("paused")
        await self.job.note(TextNote(f"Canary paused: {why}"))

    async def _obey(
        self, control: Control
    ) -> Literal["promote now", "paused", "resumed", "ignored"]:
        job, who = self.job, f"<@{control.user}>"
        if control.action == "abort":
            raise Breach("aborted", "request", requested_by=control.user)
        if control.action == "promote":
            await job.note(
                TextNote(f"{who} promoted the canary: the remaining analysis is skipped.")
            )
            await job.audit("canary.promoted", actor=control.user)
            return "promote now"
        if control.action == "pause" and not self.progress.paused:
            await self._pause(f"paused by {who}")
            return "paused"
        if control.action == "resume" and self.progress.paused:
            # The hold counts again from now: the paused time is not judged.
            self.progress = replace(self.progress, paused=None, stage_started_at=self.tools.clock())
            await self._save()
            await job.set_state("running")
            await job.note(TextNote(f"{who} resumed the canary."))
            return "resumed"
        return "ignored"

    async def _effective(self, percent: int) -> bool:
        """Whether the public host shows about ``percent`` % on the new version."""
        if self.env.topology == "slots":
            return True  # the ramp-up rule applies at App Service's front end, at once
        for _ in range(3):
            share = await observed_share(
                self.tools.http, public_url(self.env), self.job.deployment.version
            )
            if share is not None and abs(share - percent) <= max(10.0, percent / 2):
                return True
            await self.tools.sleep(1.0)
        return False

    async def _save(self, traffic: tuple[tuple[str, float], ...] | None = None) -> None:
        if traffic is None:
            await self.job.save(canary=self.progress)
        else:
            await self.job.save(
                canary=self.progress, traffic=traffic, traffic_effective=self.progress.effective
            )
        await self.tools.reporter.changed(self.job.id)
