"""`deploybot check`: validate the config and say what it means."""

from __future__ import annotations

from typing import TextIO

from bot.settings import Settings
from commands import eventloop
from commands.config.durations import format_duration


def summary(settings: Settings) -> list[str]:
    config = settings.config
    lines = [f"{settings.source}: OK — {len(config.environments)} environment(s)"]
    for env in config.environments.values():
        az = env.azure
        where = (
            f"app {az.app}, staging slot {az.slot}"
            if env.topology == "slots"
            else f"Traffic Manager {az.traffic_manager} → "
            + ", ".join(f"{c}={a}" for c, a in az.apps.items())
        )
        aliases = f" (aka {', '.join(env.aliases)})" if env.aliases else ""
        lines.append(f"  {env.name}{aliases}: {env.topology}, {env.strategy}; {where}")
        lines.append(f"    channel {env.channel}; resource group {az.resource_group}")
        deployers = sorted(config.members(env.deployers))
        lines.append(f"    deployers: {', '.join(deployers) or 'nobody'}")
        approvals = env.approvals
        if approvals.required:
            approvers = ", ".join(sorted(config.members(approvals.approvers)))
            self_ok = "allowed" if approvals.allow_self_approval else "not allowed"
            lines.append(
                f"    approvals: {approvals.required} of {approvers}; self-approval {self_ok}; "
                f"expire after {format_duration(approvals.expires_after)}"
            )
        else:
            lines.append("    approvals: none")
        checks = ", ".join(env.health.checks)
        lines.append(f"    health checks: {checks}; watch {format_duration(env.health.watch)}")
    for freeze in config.freezes:
        scope = ", ".join(freeze.environments) or "all environments"
        if freeze.weekly:
            span = f"every {'/'.join(freeze.weekly.days)} {freeze.weekly.start}–{freeze.weekly.end}"
        else:
            span = f"{freeze.start} – {freeze.end}"
        lines.append(f"  freeze {freeze.name}: {scope}, {span} {freeze.timezone}")
    lines.append(f"  incidents: {config.incidents.channel}")
    return lines


def check(settings: Settings, out: TextIO, *, live: bool) -> int:
    for line in summary(settings):
        print(line, file=out)
    if not live:
        return 0
    from bot.cli.live import live_checks

    problems = eventloop.run(live_checks(settings, out))
    return 1 if problems else 0
