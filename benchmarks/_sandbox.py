"""The Azure sandbox as its own process, with extra slotted Web Apps for the benchmarks.

    python benchmarks/_sandbox.py FOLDER EXTRA

``deploybot sandbox`` runs the reference system (three environments). Five deployments at
once need two more: this starts the same ``Sandbox`` with ``EXTRA`` slotted Web Apps added
(``virtualqueue-extra1``…), writes ``FOLDER/sandbox.env`` and ``FOLDER/deploybot.yml`` (the
sandbox's configuration with an environment per extra app, a copy of dev) and prints the
sandbox CLI's ready line. No synthetic load, as in the production tests.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import signal
import sys
from pathlib import Path

import yaml

from commands.platform.sandbox import Sandbox, SandboxSystem, SiteSpec, SlotSpec
from commands.platform.sandbox.cli import READY_LINE, env_file_text


def system(extra: int) -> SandboxSystem:
    ref = SandboxSystem.reference()
    sites = tuple(
        SiteSpec(ref.subscription_id, f"rg-virtualqueue-extra{i}", f"virtualqueue-extra{i}",
                 "v1.1.0", slots=(SlotSpec("green", "v1.0.0"),))
        for i in range(1, extra + 1)
    )  # fmt: skip
    return dataclasses.replace(ref, sites=ref.sites + sites)


async def run(folder: Path, extra: int) -> None:
    async with Sandbox.start(system(extra)) as sb:
        mapping = sb.config_mapping()
        envs = mapping["environments"]
        for i in range(1, extra + 1):
            app = f"virtualqueue-extra{i}"
            env = copy.deepcopy(envs["dev"])
            env["aliases"] = []
            env["azure"].update(resource_group=f"rg-{app}", app=app)
            targets = {"production": sb.app_url(app), "green": sb.app_url(app, "green")}
            env["urls"] = {"public": sb.front_door_url(app), "targets": targets}
            envs[f"extra{i}"] = env
        (folder / "sandbox.env").write_text(env_file_text(sb.env()), encoding="utf-8")
        (folder / "deploybot.yml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
        print(f"Admin API: {sb.admin_url}", flush=True)
        print(READY_LINE, flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run(Path(sys.argv[1]), int(sys.argv[2])))
