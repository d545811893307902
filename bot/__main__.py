"""The deploybot command line: the only place that reads the process environment."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot import collection, logs
from commands import eventloop
from commands.config import ConfigError

if TYPE_CHECKING:
    from bot.cli.audit import SlackCheckpoints

LOG_VARIABLES = {"level": "DEPLOYBOT_LOG_LEVEL", "format": "DEPLOYBOT_LOG_FORMAT"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploybot",
        description="Slack ChatOps deployments to Azure App Service.",
    )
    sub = parser.add_subparsers(dest="mode", required=True, metavar="MODE")

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--config", help="YAML config (default: $DEPLOYBOT_CONFIG or ./deploybot.yml)"
        )
        return p

    console = with_config(
        sub.add_parser("console", help="Slack and Azure in the terminal (no accounts)")
    )
    console.add_argument("--script", type=Path, help="read console lines from FILE and exit")
    with_config(sub.add_parser("demo", help="a scripted tour that needs no input"))
    serve = with_config(
        sub.add_parser("serve", help="HTTP mode: /slack/events, /healthz, /metrics")
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    socket = with_config(
        sub.add_parser("socket", help="Socket Mode plus the health/metrics server")
    )
    socket.add_argument("--host", default="127.0.0.1")
    socket.add_argument("--port", type=int, default=3000)
    sandbox = sub.add_parser("sandbox", help="the local Azure sandbox alone")
    sandbox.add_argument("--port", type=int, default=0, help="ARM HTTPS port (default: any free)")
    sandbox.add_argument("--env-file", type=Path, help="write AZURE_* variables to this file")
    sandbox.add_argument("--config-out", type=Path, help="write a deploybot.yml for the sandbox")
    sandbox.add_argument(
        "--load",
        type=float,
        metavar="RPS",
        help="synthetic requests/s per front door (default: the sandbox's, 10; 0 = off)",
    )
    check = with_config(sub.add_parser("check", help="validate the config and print a summary"))
    check.add_argument(
        "--live", action="store_true", help="also check Azure resources and Slack auth"
    )
    audit = sub.add_parser("audit", help="verify or export the audit log")
    audit_sub = audit.add_subparsers(dest="audit_mode", required=True, metavar="ACTION")
    verify = audit_sub.add_parser(
        "verify", help="check the hash chain; exit 1 at the first broken row"
    )
    export = audit_sub.add_parser("export", help="write the log as JSON lines or CSV")
    for action in (verify, export):
        action.add_argument(
            "--database",
            metavar="PATH|URL",
            help="a SQLite file or a database URL "
            "(default: $DEPLOYBOT_DATABASE_URL, else ./deploybot.db)",
        )
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="compare with the checkpoint lines in FILE (repeatable)",
    )
    verify.add_argument(
        "--against-slack",
        action="store_true",
        help="compare with the checkpoints the bot posted to audit.checkpoint_channel",
    )
    with_config(verify)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--since", help="ISO-8601 time, e.g. 2026-11-01T00:00:00Z")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    try:
        logs.configure(
            env.get("DEPLOYBOT_LOG_LEVEL") or "WARNING", env.get("DEPLOYBOT_LOG_FORMAT") or "text"
        )
    except logs.LogSettingError as error:
        print(f"deploybot: {LOG_VARIABLES[error.setting]}={error}", file=sys.stderr)
        return 2
    try:
        code = run(args, env, sys.stdout)
        sys.stdout.flush()  # a reader that went away shows up here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_went_away()
    except ConfigError as error:
        print(f"deploybot: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def run(args: argparse.Namespace, env: dict[str, str], out: TextIO) -> int:
    mode = args.mode
    if mode == "sandbox":  # before the settings: it reads no config, nor the database layer
        from commands.platform.sandbox.cli import main as sandbox_main

        return sandbox_main(args.port, args.env_file, args.config_out, out, args.load)
    if mode in ("serve", "socket"):
        collection.hold()  # until the bot is built (bot.cli.serve releases it)
    from bot.settings import Runtime, load_settings

    if mode == "check":
        from bot.cli.check import check

        return check(load_settings(args.config, env), out, live=args.live)
    if mode == "audit":
        from bot.cli.audit import database_url, export, verify

        url = database_url(args.database, env, Path.cwd())
        if args.audit_mode == "verify":
            keyring = Runtime.from_environ(env).audit_keyring()
            slack = _audit_channel(args.config, env) if args.against_slack else None
            return eventloop.run(
                verify(url, out, keyring=keyring, checkpoint_files=args.checkpoint, slack=slack)
            )
        since = _since(args.since)
        return eventloop.run(export(url, args.format, since, args.output, out))
    if mode == "serve":
        from bot.cli.serve import serve

        settings = load_settings(args.config, env)
        settings.runtime.require("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
        return eventloop.run(serve(settings, args.host, args.port))
    if mode == "socket":
        from bot.cli.serve import socket_mode

        settings = load_settings(args.config, env)
        settings.runtime.require("SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
        return eventloop.run(socket_mode(settings, args.host, args.port))
    if mode in ("console", "demo"):
        from bot.console.cli import console, demo

        settings = load_settings(args.config, env, allow_reference=True)
        if mode == "demo":
            return demo(settings, out)
        return console(settings, out, script=args.script)
    raise AssertionError(mode)


def _audit_channel(config: str | None, env: dict[str, str]) -> SlackCheckpoints:
    """``--against-slack``: the bot's token and API URL, and the channel from the config."""
    from bot.assemble import slack_client
    from bot.cli.audit import SlackCheckpoints
    from bot.settings import load_settings
    from commands.config import Problem

    settings = load_settings(config, env)
    settings.runtime.require("SLACK_BOT_TOKEN")
    channel = settings.config.audit.checkpoint_channel
    if channel is None:
        problem = Problem("audit.checkpoint_channel", "must be set for --against-slack")
        raise ConfigError(settings.source, [problem])
    return SlackCheckpoints(slack_client(settings), channel)


def _reader_went_away() -> int:
    """`deploybot audit export | head -1`: stop quietly, as a tool killed by SIGPIPE would.

    Python's recipe (signal module docs, "Note on SIGPIPE"): point standard output at devnull
    so the interpreter's final flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"deploybot: --since {text!r} is not an ISO-8601 time") from None


if __name__ == "__main__":
    raise SystemExit(main())
