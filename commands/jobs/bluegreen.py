"""Blue-green: the new version goes to the idle target, is checked there, then takes traffic.

Before the switch a failure leaves production untouched. After it, a failure switches back
and verifies the old version serves again. A ``rollback`` job is the same machine pointed
at an older version: it switches back at once when the idle target still holds it.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from commands import policy
from commands.jobs.base import Job, StepFailed
from commands.jobs.context import Method, traffic_to
from commands.jobs.hooks import call_hook
from commands.jobs.notes import HealthNote, SwitchNote, TextNote
from commands.jobs.steps import DEPLOY_STEPS, Step, plan_steps
from commands.jobs.switch_back import first_look, switch_back_first
from commands.jobs.switching import Switcher
from commands.jobs.watch import Breach, watch
from commands.platform.base import Deployable, public_url, target_of, target_url
from commands.probes.health import check_health, wait_for_version
from commands.probes.results import HealthReport

__all__ = ["DEPLOY_STEPS", "BlueGreenJob", "plan_steps"]  # plan_steps: commands.plan, creating


class BlueGreenJob(Job):
    # A breach's switch back, started before anything about the breach is written.
    _switching_back: asyncio.Future[tuple[float, str]] | None = None

    async def run(self) -> None:
        d = await self.reload()
        if d.state == "rolling_back":
            why = self.ctx.rollback_reason or str((d.error or {}).get("message") or "")
            await self._roll_back(why or "resumed after a restart")
            return
        if d.state in ("queued", "running"):
            await self.set_state("running")
        try:
            await self._prepare_target()
            if self.env.hooks.pre_switch:
                await self.run_step(Step.PRE_SWITCH_HOOK, partial(call_hook, self, "pre"))
        except StepFailed as failure:
            await self._failed_before_switch(failure)
            return
        try:
            await self.run_step(Step.SWITCH, self._switch)
            await self.run_step(Step.VERIFY, self._verify)
            if self.deployment.kind != "rollback":
                if self.env.hooks.post_switch:
                    await self.run_step(Step.POST_SWITCH_HOOK, partial(call_hook, self, "post"))
                if self.ctx.watch_until is None:
                    # Stored with the state: a card that says Watching offers Roll back.
                    await self.save(watch_until=self.tools.clock() + self.env.health.watch)
                await self.set_state("watching")
                await self.run_step(Step.WATCH, self._watch)
        except Breach as breach:
            await self._roll_back(str(breach), requested_by=breach.requested_by)
            return
        except StepFailed as failure:
            if self.ctx.switched and self.deployment.kind != "rollback":
                await self._roll_back(str(failure))
            else:
                await self._failed_before_switch(failure)
            return
        await self.finish("succeeded", live_version=self.deployment.version)

    # -- before the switch -------------------------------------------------------------------
    async def _prepare_target(self) -> None:
        """Pre-checks, then the version onto the idle target and checked there; a switch back
        to a version the target still holds skips the deploy steps."""
        await self.run_step(Step.PRECHECK, self._precheck)
        work = {
            Step.DEPLOY: self._deploy,
            Step.RESTART: self._restart,
            Step.WAIT_VERSION: self._wait_version,
            Step.HEALTH_GATE: self._health_gate,
        }
        for name in DEPLOY_STEPS:
            if self.ctx.switching_back:
                await self.skip(name, f"{self.target} already runs {self.deployment.version}")
            else:
                await self.run_step(name, work[name])

    async def _precheck(self) -> str:
        d = self.deployment
        tools = self.tools
        lock = await tools.store.locks.get(self.env.name)
        if lock is None or lock.deployment_id != self.id:
            raise StepFailed(f"{self.env.name} is not locked for this deployment")
        # Rolling back is the safe direction: a freeze never holds it up.
        freeze = (
            None
            if d.kind == "rollback"
            else policy.active_freeze(tools.config, self.env.name, tools.clock())
        )
        if freeze and not d.flags.get("force"):
            raise StepFailed(
                f"{self.env.name} is frozen ({freeze.name}); use --force with approvals"
            )
        state = await tools.platform.read_state(self.env)
        if self.ctx.target is None:
            target, method = self._choose_target(state)
            await self.save(
                target=target,
                live=state.live,
                previous_version=state.live_version,
                method=method,
                traffic=tuple(state.split.items()),
            )
        target = self.target
        if state.target(target).state.lower() != "running":
            raise StepFailed(f"{target} is {state.target(target).state}, not Running")
        checks = [f"{target} is Running", f"live: {state.live} runs {state.live_version}"]
        if self.ctx.switching_back:
            ready = await wait_for_version(
                tools.http, target_url(self.env, target), d.version, timeout_s=10, interval_s=0.5
            )
            if not ready.ok:
                raise StepFailed(f"{target} holds {d.version} but is not healthy: {ready.detail}")
            checks.append(f"{target} serves {d.version}")
        else:
            checks.append(await self._artifact_answers())
        if freeze:
            checks.append(f"freeze {freeze.name} overridden with --force")
        return "; ".join(checks)

    def _choose_target(self, state: Any) -> tuple[str, Method]:
        version = self.deployment.version
        idle = state.idle
        if idle is None:
            raise StepFailed(f"cannot tell which target of {self.env.name} is idle")
        if self.deployment.kind == "rollback":
            holder = state.target(idle)
            if holder.version == version:
                return idle, "swap back" if self.env.topology == "slots" else "flip back"
        return idle, "deploy"

    async def _artifact_answers(self) -> str:
        artifact = self.env.artifact
        url = artifact.package_url_for(self.deployment.version)
        if not artifact.check or url is None:
            return "artifact: not checked (container image)" if url is None else "artifact: skipped"
        try:
            answer = await self.tools.http.head(url, follow_redirects=True, timeout=10)
        except Exception as error:  # any transport failure means the artifact cannot be fetched
            raise StepFailed(f"artifact {url} did not answer ({type(error).__name__})") from None
        if answer.status_code >= 400:
            raise StepFailed(f"artifact {url} answered {answer.status_code}")
        return f"artifact answers ({answer.status_code})"

    async def _deploy(self) -> str:
        target = self.target
        deployable = Deployable.of(self.env.artifact, self.deployment.version)
        await self.tools.platform.put_version(target_of(self.env, target), deployable)
        where = deployable.package_url or f"DOCKER|{deployable.image}"
        return f"{target}: {where}"

    async def _restart(self) -> str:
        target = self.target
        await self.tools.platform.restart(target_of(self.env, target))
        return f"{target} restarted"

    async def _wait_version(self) -> str:
        target = self.target
        result = await wait_for_version(
            self.tools.http,
            target_url(self.env, target),
            self.deployment.version,
            timeout_s=self.env.health.version_wait.total_seconds(),
            interval_s=min(2.0, max(0.05, self.env.health.version_wait.total_seconds() / 20)),
            request_timeout_s=self.env.health.timeout.total_seconds(),
            sleep=self.tools.sleep,
        )
        if not result.ok:
            # Say what the target looks like, not only that it is not ready: the health table.
            await self._checks(target_url(self.env, target), target)
            raise StepFailed(f"{target} {result.detail}")
        return f"{target} {result.detail} after {result.duration_ms / 1000:.1f}s"

    async def _health_gate(self) -> str:
        target = self.target
        report = await self._checks(target_url(self.env, target), target)
        if not report.ok:
            raise StepFailed(f"{target}: {report.summary()}")
        return report.summary()

    async def _checks(self, url: str, where: str) -> HealthReport:
        report = await check_health(
            self.tools.http, url, self.env.health, expected_version=self.deployment.version
        )
        await self.note(HealthNote(where, report))
        await self.audit("health.verdict", where=where, ok=report.ok, summary=report.summary())
        return report

    async def _failed_before_switch(self, failure: Exception) -> None:
        previous, live = self.ctx.previous_version, self.ctx.live
        untouched = f"Production untouched: {live} still serves {previous}." if live else ""
        await self.note(TextNote(f"Stopped: {failure}. {untouched}".strip()))
        await self.finish("failed", live_version=previous, error=str(failure))

    # -- the switch and after ----------------------------------------------------------------
    async def _switch(self) -> str:
        switcher = Switcher(self)
        target, version = self.target, self.deployment.version
        if self.ctx.switching_back:
            took, how = await switcher.switch_back(target, version)
        else:
            took, how = await switcher.switch_to(target, version)
        await self.save(switched=True, traffic=traffic_to(target))
        await self.note(SwitchNote(how, self.ctx.live, target, took, switcher.effective()))
        return f"{how} in {took:.2f}s"

    async def _verify(self) -> str:
        url = public_url(self.env)
        version = self.deployment.version
        seen = await wait_for_version(
            self.tools.http,
            url,
            version,
            timeout_s=max(10.0, self.env.health.version_wait.total_seconds() / 4),
            interval_s=0.2,
            sleep=self.tools.sleep,
        )
        if not seen.ok:
            raise StepFailed(f"production {seen.detail}")
        report = await self._checks(url, "production")
        if not report.ok:
            raise StepFailed(f"production: {report.summary()}")
        return f"production serves {version}; {report.summary()}"

    async def _watch(self) -> str:
        if self.resumed:
            await first_look(self)
        try:
            return await watch(self)
        except Breach as breach:
            self._switching_back = await switch_back_first(self)
            if breach.recorded is not None:
                await breach.recorded  # after the switch's first request: it did not wait
            raise

    async def _until_public_serves(self, version: str, when: str) -> None:
        """A rollback is said done only once the public host answers with ``version``."""
        seen = await wait_for_version(
            self.tools.http,
            public_url(self.env),
            version,
            timeout_s=30,
            interval_s=0.2,
            sleep=self.tools.sleep,
        )
        if not seen.ok:
            raise StepFailed(f"{when}, production {seen.detail}")

    async def _roll_back(self, why: str, *, requested_by: str | None = None) -> None:
        """Switch back to ``live``; ``requested_by`` a person (not an error) or ``why`` broke."""
        ctx = self.ctx
        previous, live = ctx.previous_version, ctx.live
        requested_by = requested_by or ctx.rollback_requested_by
        await self.save(rollback_reason=why, rollback_requested_by=requested_by)
        # A person's request is not an error: the card says who asked, not ":x: Error".
        await self.set_state("rolling_back", error=None if requested_by else {"message": why})
        because = f"requested by <@{requested_by}>" if requested_by else why
        await self.note(TextNote(f"Rolling back to {previous}: {because}"))

        async def work() -> str:
            switcher = Switcher(self)
            early, self._switching_back = self._switching_back, None
            # This run switched (unless it resumed after a crash), so it knows where traffic is.
            took, how = await (
                early or switcher.switch_back(str(live), str(previous), look_first=self.resumed)
            )
            await self.save(traffic=traffic_to(str(live)), rollback_note=f"{how}, {took:.2f}s")
            await self.note(SwitchNote(how, self.target, str(live), took, switcher.effective()))
            await self._until_public_serves(str(previous), "after rolling back")
            return f"{how} in {took:.2f}s; production serves {previous} again"

        try:
            await self.run_step(Step.ROLLBACK, work)
        except StepFailed as failure:
            await self.note(TextNote(f"Rollback did not complete: {failure}. Needs a person now."))
            cause = "" if requested_by else f"{why}; "
            await self.finish(
                "failed", live_version=None, error=f"{cause}rollback failed: {failure}"
            )
            return
        await self.finish(
            "rolled_back", live_version=str(previous), error=None if requested_by else why
        )
