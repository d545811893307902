"""``deploybot sandbox``: run the local Azure sandbox in the foreground until Ctrl+C / SIGTERM.

Also runnable alone: ``python -m commands.platform.sandbox.cli [--port P] [--env-file PATH]
[--config-out PATH] [--load RPS]``. ``--load`` sets the synthetic requests a second sent to
each front door (default 10; 0 turns it off; ``POST /admin/load {"rps": N}`` changes it later).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TextIO

from commands import eventloop
from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.sandbox import Sandbox
from commands.platform.sandbox.system import SandboxSystem

READY_LINE = "Sandbox ready. Press Ctrl+C to stop."
DEFAULT_LOAD_RPS = 10.0


def env_file_text(env: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in env.items())


def banner(sb: Sandbox) -> str:
    lines = [
        f"deploybot sandbox: local Azure Resource Manager on {sb.arm_url}",
        "",
        "Point the Azure SDK (DefaultAzureCredential) at it with:",
        *(f"  export {key}={value}" for key, value in sb.env().items()),
        "(SSL_CERT_FILE must be set before the client process starts.)",
        "",
        f"Admin API:  {sb.admin_url}/admin/state   (POST /admin/faults/app|version|arm, "
        'DELETE /admin/faults; POST /admin/alerting {"url": …, "token": …})',
        f"Artifacts:  {sb.artifact_url('{version}')}",
        f"Load:       {sb.load.rps:g} requests/s per front door   (POST /admin/load "
        '{"rps": N}, 0 = off)',
        "",
        "Apps:",
    ]
    for unit in sb.world.units():
        lines.append(f"  {unit.label:<40} {sb.app_url(unit.site.name, unit.slot)}")
    lines.append("Front doors:")
    names = [p.name for p in sb.world.profiles.values()]
    names += [s.name for s in sb.world.sites.values() if s.slots]
    for name in names:
        lines.append(f"  {name:<40} {sb.front_door_url(name)}")
    return "\n".join(lines) + "\n"


def _write_files(sb: Sandbox, env_file: Path | None, config_out: Path | None) -> None:
    if env_file is not None:
        env_file.write_text(env_file_text(sb.env()), encoding="utf-8")
    if config_out is not None:
        config_out.write_text(sb.config_yaml(), encoding="utf-8")


async def _run(
    port: int, env_file: Path | None, config_out: Path | None, out: TextIO, load_rps: float
) -> int:
    async with Sandbox.start(SandboxSystem.reference(), port=port, load_rps=load_rps) as sb:
        try:
            _write_files(sb, env_file, config_out)
        except OSError as error:
            print(f"deploybot sandbox: cannot write {error.filename}: {error.strerror}", file=out)
            return 2
        # Handlers first: a supervisor may send SIGTERM the moment it reads the ready line.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            out.write(banner(sb))
            if env_file is not None:
                out.write(f"Wrote {env_file}\n")
            if config_out is not None:
                out.write(f"Wrote {config_out} (use it with --config)\n")
            out.write(READY_LINE + "\n")
            out.flush()
            await stop.wait()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
        out.write("Stopping the sandbox.\n")
        out.flush()
    return 0


def main(
    port: int,
    env_file: Path | None,
    config_out: Path | None,
    out: TextIO,
    load_rps: float | None = None,
) -> int:
    """Run the sandbox until SIGINT/SIGTERM; 0 on a clean stop, 2 on bad input.

    ``load_rps``: synthetic requests a second per front door (None: ``DEFAULT_LOAD_RPS``).
    """
    rps = DEFAULT_LOAD_RPS if load_rps is None else load_rps
    try:
        return eventloop.run(_run(port, env_file, config_out, out, rps))
    except SandboxError as error:
        print(f"deploybot sandbox: {error}", file=out)
        return 2


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="deploybot sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="ARM HTTPS port (default: any free)")
    parser.add_argument("--env-file", type=Path, help="write the AZURE_* variables here")
    parser.add_argument("--config-out", type=Path, help="write a deploybot.yml for the sandbox")
    parser.add_argument(
        "--load",
        type=float,
        default=DEFAULT_LOAD_RPS,
        metavar="RPS",
        help=f"synthetic requests/s per front door (default {DEFAULT_LOAD_RPS:g}; 0 = off)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse(sys.argv[1:])
    raise SystemExit(main(args.port, args.env_file, args.config_out, sys.stdout, args.load))
