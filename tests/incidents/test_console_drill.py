"""`drill …` at the console: the sandbox's own webhook (the fallback where Prometheus is not
installed) opens the incident thread, a deployer's click restores the old version; lines it
cannot act on are answered, not crashed on."""

from __future__ import annotations

from pathlib import Path

from bot.console.session import open_console, without_freezes
from bot.settings import Settings
from commands.config import config_from_text, reference_text

SETTINGS = Settings(config_from_text(reference_text()))


async def test_the_drill_with_the_sandbox_webhook(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db, overrides=without_freezes) as console:
        assert (await console.handle("drill wait"))[0] == "! start the drill first: drill start"
        assert (await console.handle("drill wait restored"))[0] == "! no incident yet: drill wait"
        assert (await console.handle("drill start sometimes"))[0].startswith("! drill start real")
        assert (await console.handle("drill dance"))[0].startswith("! drill start |")
        started = await console.handle("drill start sandbox")
        assert started[0].startswith("(monitoring prod's 5xx rate: the sandbox's own")
        assert (await console.handle("drill start"))[0].startswith("? the drill is already on")
        # Forced past the reference's promotion order (staging first), as the demo's drill is.
        await console.handle('/deploy prod v1.2.1 --force --reason "queue fix"')
        for lead in ("bob", "carol"):
            await console.handle(f"as {lead}")
            await console.handle("click 1")
        assert any("Succeeded" in line for line in await console.handle("wait"))

        assert "now answers 50%" in (await console.handle("drill fault v1.2.1"))[0]
        opened = await console.handle("drill wait")
        assert opened[0].startswith("(the incident thread opened ")
        await console.handle("in #incidents")
        shown = "\n".join(await console.handle("show"))
        assert "[1] Roll back to v1.1.0" in shown and "live `v1.2.1` (read from Azure)" in shown
        # dave has no role: the refusal comes back to him alone.
        await console.handle("as dave")
        refused = "\n".join(await console.handle("click 1 yes"))
        assert "you can't roll back prod: only its deployers can" in refused
        await console.handle("as alice")
        await console.handle("click 1 yes")
        restored = await console.handle("drill wait restored")
        assert restored[0].startswith("(incident thread: Traffic back on v1.1.0 after ")
        assert console.stack.sandbox.version("virtualqueue-production-blue") == "v1.1.0"
        thread = "\n".join(await console.handle("thread"))
        assert "Follow rollback" in thread and "/archives/C0DEPLOYS/p" in thread
        assert await console.handle("drill stop") == [
            "(drill over: monitoring off, faults cleared)"
        ]
        assert console.stack.sandbox.alerting.url is None
