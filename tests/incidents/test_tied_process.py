"""The drill's helper processes never outlive the bot, even when it is SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

ROOT = str(Path(__file__).resolve().parents[2])
PARENT = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from bot.incidents.tied_process import tied_process

    async def main() -> None:
        async with tied_process("sleep", "600", log=Path(sys.argv[1])) as child:
            print(child.pid, flush=True)
            await asyncio.sleep(600)

    asyncio.run(main())
    """
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"  # reaped by init soon after


async def test_a_sigkilled_bot_takes_its_helper_process_with_it(tmp_path: Path) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, str(tmp_path / "child.log"),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": ROOT},
    )  # fmt: skip
    assert parent.stdout is not None
    child = int(await asyncio.wait_for(parent.stdout.readline(), 30))
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    for _ in range(100):
        if not alive(child):
            break
        await asyncio.sleep(0.05)
    assert not alive(child), f"sleep {child} outlived the SIGKILLed parent"


async def test_leaving_the_block_ends_the_helper(tmp_path: Path) -> None:
    from bot.incidents.tied_process import tied_process

    async with tied_process("sleep", "600", log=tmp_path / "child.log") as child:
        assert alive(child.pid)
    assert child.returncode == -signal.SIGTERM
