"""A canary at the console: /canary, the card's Pause/Resume/Promote/Abort, faults into it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.console.faults import spelled_out
from bot.console.session import open_console
from bot.local import quick_checks
from bot.settings import Settings
from commands.config import config_from_text, reference_text

SETTINGS = Settings(config_from_text(reference_text()))


def staging_canary(mapping: dict[str, Any]) -> dict[str, Any]:
    """staging (slots, one lead's approval): one judged stage of 20 % for 3 s, then 100 %."""
    quick_checks(mapping)
    mapping["freezes"] = []
    mapping["environments"]["staging"]["canary"] = {
        "stages": [{"percent": 20, "hold": "3s"}, {"percent": 100}],
        "interval": "0.3s",
        "max_extensions": 5,
        "metrics": {"source": "scrape"},
        "rollback": {"min_requests": 3, "confidence": 0.9, "allowed_increase": 1.0},
    }
    return mapping


def shown(lines: list[str]) -> str:
    return "\n".join(lines)


def buttons(lines: list[str]) -> str:
    return next(line for line in reversed(lines) if line.strip().startswith("[1]"))


async def test_pause_resume_a_refused_and_a_granted_promote(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db, overrides=staging_canary) as console:
        await console.handle("/canary staging v1.3.0")
        await console.handle("as bob")
        assert "approvals complete" in shown(await console.handle("click 1"))
        running = await console.handle("wait stage 1")
        assert "Stage 1 of 2 started: 20 % of traffic on green" in shown(running)
        assert buttons(running).split() == ["[1]", "Pause", "[2]", "Promote…", "[3]", "Abort…"]
        paused = await console.handle("click 1")
        assert "*State* :double_vertical_bar: Paused" in shown(paused)
        assert buttons(paused).split()[:2] == ["[1]", "Resume"]  # the card after the click
        assert await console.handle("wait") == [
            "? the canary is paused (staging v1.3.0): click Resume, Promote or Abort on its card"
        ]
        await console.handle("as alice")
        asked = await console.handle("click 2")
        assert asked[0].startswith("? button 'Promote' asks for confirmation")
        assert asked[0].endswith("answer with: click 2 yes")
        refused = shown(await console.handle("click 2 yes"))
        assert "only an approver of staging can promote a canary" in refused
        resumed = await console.handle("click 1")
        assert "@alice resumed the canary." in shown(resumed)
        assert "*State* :rocket: Running" in shown(resumed)
        await console.handle("as bob")
        promoted = shown(await console.handle("click 2 yes"))
        assert "Promoting the canary" in promoted
        # The card may already show the end in the click's own output: the job can finish
        # while the click's answer goes out, and its last thread notes arrive after the card.
        done = promoted + shown(await console.handle("wait"))
        assert "*State* :white_check_mark: Succeeded" in done
        assert "@bob promoted the canary" in done
        assert console.stack.sandbox.version("virtualqueue-staging") == "v1.3.0"


async def test_a_latency_fault_rolls_the_canary_back_and_abort_takes_one_out(
    tmp_path: Path,
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db, overrides=staging_canary) as console:
        await console.handle("/canary staging v1.3.0")
        await console.handle("as bob")
        await console.handle("click 1")
        await console.handle("wait stage 1")
        assert await console.handle("fault version v1.3.0 latency 800ms") == [
            "(version v1.3.0 now misbehaves: latency_ms=800)"
        ]
        breached = shown(await console.handle("wait"))
        assert "*State* :leftwards_arrow_with_hook: Rolled back" in breached
        assert "p95 latency" in breached and "> 500 ms for 2 intervals" in breached
        assert "[file] staging v1.3.0 · stage 1 · 20 % canary (" in breached  # the chart
        assert console.stack.sandbox.version("virtualqueue-staging") == "v1.1.0"
        assert await console.handle("fault clear") == ["(all faults cleared)"]

        await console.handle("as alice")
        await console.handle("/canary staging v1.4.0")
        await console.handle("as bob")
        await console.handle("click 1")
        await console.handle("wait stage 1")
        asked = await console.handle("click 3")
        assert asked[0].startswith("? button 'Abort' asks for confirmation")
        aborted = shown(await console.handle("click 3 yes"))
        assert "Rolled back" in aborted or "Rolled back" in shown(await console.handle("wait"))
        assert console.stack.sandbox.version("virtualqueue-staging") == "v1.1.0"


async def test_wait_stage_answers_when_no_canary_could_get_there(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db, overrides=staging_canary) as console:
        assert await console.handle("wait stage 2") == [
            "? no canary is running that could reach stage 2"
        ]
        assert (await console.handle("wait stage"))[0].startswith("! wait for what?")
        assert (await console.handle("wait stage zero"))[0].startswith("! wait for what?")


def test_faults_spelled_as_people_say_them() -> None:
    assert spelled_out(["error-rate", "5%"]) == ["error_rate=0.05"]
    assert spelled_out(["error-rate", "0.2"]) == ["error_rate=0.2"]
    assert spelled_out(["latency", "800ms"]) == ["latency_ms=800"]
    assert spelled_out(["latency", "250"]) == ["latency_ms=250"]
    assert spelled_out(["unhealthy", "error_rate=0.1"]) == ["unhealthy", "error_rate=0.1"]
    with pytest.raises(ValueError, match=r"error-rate needs a value, e\.g\. error-rate 5%"):
        spelled_out(["error-rate"])
    with pytest.raises(ValueError, match=r"'lots' is not a number; e\.g\. latency 800ms"):
        spelled_out(["latency", "lots"])


async def test_bad_faults_at_the_prompt_are_answered_and_change_nothing(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    async with open_console(SETTINGS, database_url=db, overrides=staging_canary) as console:
        assert await console.handle("fault version v1.3.0 error-rate 5%") == [
            "(version v1.3.0 now misbehaves: error_rate=0.05)"
        ]
        too_much = await console.handle("fault version v1.3.0 error-rate 150%")
        assert too_much[0].startswith("! ") and "error_rate" in too_much[0]
        assert (await console.handle("fault version v1.3.0 latency"))[0] == (
            "! latency needs a value, e.g. latency 800ms"
        )
        assert (await console.handle("fault version v1.3.0 error-rate x%"))[0] == (
            "! 'x%' is not a number; e.g. error-rate 5%"
        )
        faults = console.stack.sandbox.faults.snapshot()
        assert faults["versions"]["v1.3.0"]["error_rate"] == 0.05, faults
