"""`drill …` lines: the incident drill at the console prompt.

``drill start`` turns monitoring on for production (a real Prometheus and Alertmanager where
installed, else the sandbox's own Alertmanager-shaped webhook) pointed at this bot's
``/alerts/alertmanager``; ``drill fault V`` makes version V answer half its requests with
5xx; ``drill wait`` waits for the incident thread, ``drill wait restored`` for the rollback's
"Traffic back on …"; ``drill stop`` turns monitoring off.
"""

from __future__ import annotations

import contextlib
import shlex
import tempfile
import time
from pathlib import Path

from bot.incidents.drill import DrillTarget, Monitoring, drill_monitoring
from bot.local import LocalStack
from bot.slackemu.model import Message

DRILL_HELP = """  drill start [real|sandbox]
                    monitoring on prod: Prometheus + Alertmanager, or the sandbox's webhook
  drill fault V     version V answers half its requests with 5xx (drill stop clears it)
  drill wait [restored]  until the incident thread opens (or traffic is back)
  drill stop        monitoring off, faults cleared"""
DEMO_DRILL = """\
# Last, an incident. Monitoring watches production's 5xx rate and alerts the bot.
drill start
# alice ships v1.2.1 to production (forced past staging for the drill); bob and carol approve.
as alice
/deploy prod v1.2.1 --force --reason "queue fix"
as bob
click 1
as carol
click 1
wait
# v1.2.1 starts answering half its requests with errors...
drill fault v1.2.1
# ...the alert opens a thread in #incidents: what fired, what runs, who deployed it.
drill wait
in #incidents
show
# alice, a deployer, clicks Roll back; the thread links the rollback, then says it is done.
as alice
click 1 yes
drill wait restored
thread
drill stop
"""
"""The end of `deploybot demo`. The tour turns the automatic rollback off, so the click is
the person's (``bot.console.session.without_freezes``)."""
ENVIRONMENT = "prod"
ERROR_RATE = 0.5
WAIT_S = 300.0  # the seeds' targets: detected, and restored, within five minutes


class Drill:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.monitoring: Monitoring | None = None
        self._exit = contextlib.AsyncExitStack()
        self._fault_at: float | None = None
        self._card: Message | None = None
        self._opened_at: float | None = None
        self._before: set[str] = set()
        """The #incidents messages there before the fault: the incident is a new one."""

    async def handle(self, rest: str) -> list[str]:
        words = shlex.split(rest)
        verb, args = (words[0], words[1:]) if words else ("", [])
        if verb == "start":
            return await self.start(args[0] if args else None)
        if verb == "fault" and len(args) == 1:
            self.stack.sandbox.faults.version(args[0], error_rate=ERROR_RATE)
            self._fault_at, self._card = time.monotonic(), None
            self._before = {m.ts for m in self.stack.ws.messages("#incidents")}
            return [f"(version {args[0]} now answers {ERROR_RATE:.0%} of requests with 5xx)"]
        if verb == "wait" and args in ([], ["restored"]):
            return await (self.wait_restored() if args else self.wait_incident())
        if verb == "stop":
            await self.close()
            return ["(drill over: monitoring off, faults cleared)"]
        return ["! drill start | drill fault VERSION | drill wait [restored] | drill stop"]

    async def start(self, mode: str | None) -> list[str]:
        if mode not in (None, "real", "sandbox"):
            return [f"! drill start real, or drill start sandbox (not {mode!r})"]
        if self.monitoring is not None:
            return [f"? the drill is already on: {self.monitoring.how}"]
        settings = self.stack.settings
        token = settings.runtime.alert_token
        if token is None or ENVIRONMENT not in settings.config.environments:
            return ["! the drill needs DEPLOYBOT_ALERT_TOKEN and a prod environment"]
        env = settings.config.environments[ENVIRONMENT]
        target = DrillTarget(
            ENVIRONMENT,
            env.urls.targets,
            self.stack.url,
            token.reveal(),
            str(self.stack.sandbox.ca_file),
        )
        folder = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="drill-")))

        async def sandbox_alerting(url: str, token: str) -> None:
            self.stack.sandbox.alerting.send_to(url, token)
            self._exit.push_async_callback(self.stack.sandbox.alerting.stop_sending)

        real = {None: None, "real": True, "sandbox": False}[mode]
        try:
            self.monitoring = await self._exit.enter_async_context(
                drill_monitoring(target, folder, sandbox_alerting, real=real)
            )
        except RuntimeError as error:
            await self.close()
            return [f"! {error}"]
        self._before = {m.ts for m in self.stack.ws.messages("#incidents")}
        return [f"(monitoring prod's 5xx rate: {self.monitoring.how})"]

    async def wait_incident(self) -> list[str]:
        if self.monitoring is None:
            return ["! start the drill first: drill start"]
        ws = self.stack.ws

        def opened() -> Message | None:
            fresh = [m for m in ws.messages("#incidents") if m.ts not in self._before]
            return next((m for m in reversed(fresh) if _buttons(m)), None)

        self._card = await ws.wait_until(opened, timeout=WAIT_S, description="an incident")
        self._opened_at = time.monotonic()
        await self.stack.services.tasks.idle()
        took = (
            f" {self._opened_at - self._fault_at:.1f} s after the fault" if self._fault_at else ""
        )
        return [f"(the incident thread opened{took})"]

    async def wait_restored(self) -> list[str]:
        if self._card is None:
            return ["! no incident yet: drill wait"]
        ws, card = self.stack.ws, self._card

        def restored() -> Message | None:
            thread = ws.thread(card.channel, card.ts)[1:]
            return next((m for m in thread if "Traffic back on" in m.text), None)

        line = await ws.wait_until(restored, timeout=WAIT_S, description="traffic restored")
        await self.stack.services.idle()
        took = (
            f" ({time.monotonic() - self._fault_at:.1f} s after the fault)"
            if self._fault_at
            else ""
        )
        return [f"(incident thread: {line.text}{took})"]

    async def close(self) -> None:
        self.stack.sandbox.faults.clear()
        self.monitoring, self._fault_at, self._card = None, None, None
        await self._exit.aclose()
        self._exit = contextlib.AsyncExitStack()


def _buttons(message: Message) -> bool:
    return any(b.get("type") == "actions" for b in message.blocks)
