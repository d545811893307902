"""Ephemeral answers to commands: help, usage, refusals, status, history, locks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.render.text import ago, code, duration, escape, mention, mentions, when
from commands.config.model import Config
from commands.requests import UsageError
from commands.results import (
    AlreadyLocked,
    EnvironmentStatus,
    History,
    Locked,
    LockInfo,
    NotLocked,
    Refused,
    Unlocked,
)

Message = dict[str, Any]
HELP = """*deploybot* ships versions to Azure App Service from Slack.
`/deploy <env> <version> [bluegreen|canary] [--dry-run] [--force] [--reason "text"]`
`/deploy status [env]` live version, traffic, lock and job per environment
`/deploy history [env] [--limit N]` who deployed what, when, and how it ended
`/deploy lock <env> [reason]` · `/deploy unlock <env>`
`/deploy cancel <env|id>` withdraw a request waiting for approval or in line
`/canary <env> <version> [--stages 5,25,50,100]`
`/rollback <env> [version] [--reason "text"]` (default: the last good version)"""


def message(text: str, blocks: list[dict[str, Any]] | None = None) -> Message:
    out: Message = {"text": text, "response_type": "ephemeral"}
    if blocks:
        out["blocks"] = blocks
    return out


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def help_message(config: Config) -> Message:
    envs = ", ".join(
        env.name + (f" ({', '.join(env.aliases)})" if env.aliases else "")
        for env in config.environments.values()
    )
    text = f"{escape(HELP)}\nEnvironments: {escape(envs)}"
    return message(text, [section(text)])


def usage(error: UsageError, typed: str) -> Message:
    usage_lines = "\n".join(f"`{escape(line)}`" for line in error.usage.splitlines())
    text = (
        f":warning: I didn't understand {code(typed) if typed.strip() else 'that'}: "
        f"{escape(error.problem)}\nTry:\n{usage_lines}"
    )
    return message(text, [section(text)])


def refused(refusal: Refused) -> Message:
    text = f":no_entry: Sorry, {escape(refusal.reason)}."
    if refusal.ask:
        text += f" Ask {mentions(refusal.ask)}."
    if refusal.hint:
        text += f"\n{escape(refusal.hint)}"
    return message(text, [section(text)])


def lock_line(lock: LockInfo, now: datetime) -> str:
    what = f"deployment `{lock.deployment_id}`" if lock.deployment_id else "a manual lock"
    why = f": {escape(lock.reason)}" if lock.reason else ""
    since = f"since {when(lock.since)}, {ago(lock.since, now)}"
    return f":lock: held by {mention(lock.holder)} for {what}{why} ({since})"


def lock_result(result: Locked | AlreadyLocked | Unlocked | NotLocked, now: datetime) -> Message:
    if isinstance(result, Locked):
        why = f": {escape(result.lock.reason)}" if result.lock.reason else ""
        env = result.lock.environment
        text = f":lock: {env} is locked{why}. Deploys wait until `/deploy unlock {env}`."
    elif isinstance(result, AlreadyLocked):
        text = f"{result.lock.environment} is already locked — {lock_line(result.lock, now)}"
    elif isinstance(result, Unlocked):
        holder = mention(result.previous.holder)
        text = f":unlock: {result.environment} is unlocked (it was locked by {holder})."
    else:
        text = f"{result.environment} is not locked."
    return message(text, [section(text)])


def status(items: list[EnvironmentStatus], now: datetime) -> Message:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Environments"}}
    ]
    lines = []
    for item in items:
        live = code(item.live_version) if item.live_version else "unknown"
        read = f"  ·  read {ago(item.live_read_at, now)}" if item.live_read_at else ""
        parts = [f"*{escape(item.name)}*  live {live}  ·  {item.topology}, {item.strategy}{read}"]
        if item.targets:
            parts.append(
                "  ".join(
                    f"{escape(t.name)} {code(t.version or '?')} {t.traffic_percent:g}%"
                    + (f" ({escape(t.monitor_status)})" if t.monitor_status else "")
                    for t in item.targets
                )
            )
        if item.live_error:
            parts.append(f":warning: could not read Azure: {escape(item.live_error)}")
        approvals = (
            f"{item.approvals_required} approval(s) needed"
            if item.approvals_required
            else "no approval needed"
        )
        parts.append(approvals)
        if item.lock:
            parts.append(lock_line(item.lock, now))
        if item.job:
            parts.append(f":hourglass_flowing_sand: in flight: {escape(item.job)}")
        if item.freeze:
            parts.append(f":snowflake: frozen ({escape(item.freeze)})")
        text = "\n".join(parts)
        lines.append(text)
        blocks.append(section(text))
    return message("\n\n".join(lines), blocks)


OUTCOME_ICON = {"succeeded": ":white_check_mark:", "rolled_back": ":leftwards_arrow_with_hook:"}


def history(result: History) -> Message:
    scope = f" for {escape(result.environment)}" if result.environment else ""
    if not result.entries:
        text = f"No deployments yet{scope}."
        return message(text, [section(text)])
    rows = [f"*Recent deployments{scope}*"]
    for e in result.entries:
        icon = OUTCOME_ICON.get(e.outcome, ":x:")
        versions = f"{code(e.from_version or '∅')} → {code(e.to_version or '?')}"
        rows.append(
            f"{icon} {when(e.at)}  *{escape(e.environment)}*  {versions}  {escape(e.kind)}"
            f"{' ' + escape(e.strategy) if e.strategy else ''} by {mention(e.requested_by)} — "
            f"{escape(e.outcome.replace('_', ' '))} in {duration(e.duration_s)}"
        )
    text = "\n".join(rows)
    return message(text, [section(text)])


def error_reference(reference: str) -> Message:
    text = (
        f":boom: Something went wrong on my side (reference `{reference}`). "
        "Nothing was changed by this command; the team can find the details in the log."
    )
    return message(text, [section(text)])
