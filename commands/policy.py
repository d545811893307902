"""Who may do what, and when: roles, approvals, expiry and freeze windows. Pure functions.

User groups (``S…`` IDs) are expanded by the caller, who passes their members in ``groups``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.config.model import Config, Environment, Freeze

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Groups = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    ask: tuple[str, ...] = ()

    @classmethod
    def allow(cls) -> Decision:
        return cls(True)


def group_ids(config: Config, entries: Iterable[str]) -> frozenset[str]:
    """The user-group IDs a check over ``entries`` will need expanded."""
    return frozenset(m for m in config.members(tuple(entries)) if m.startswith("S"))


def members(config: Config, entries: Iterable[str], groups: Groups) -> frozenset[str]:
    users: set[str] = set()
    for member in config.members(tuple(entries)):
        if member.startswith("S"):
            users.update(groups.get(member, frozenset()))
        else:
            users.add(member)
    return frozenset(users)


def deployers(config: Config, env: Environment, groups: Groups) -> frozenset[str]:
    return members(config, env.deployers, groups)


def approvers(config: Config, env: Environment, groups: Groups) -> frozenset[str]:
    return members(config, env.approvals.approvers, groups)


def may_deploy(config: Config, env: Environment, user: str, groups: Groups) -> Decision:
    allowed = deployers(config, env, groups)
    if user in allowed:
        return Decision.allow()
    return Decision(False, f"you can't deploy to {env.name}", tuple(sorted(allowed)))


def may_operate(config: Config, env: Environment, user: str, groups: Groups) -> Decision:
    """Locks, rollbacks, pausing a canary: deployers and approvers of the environment."""
    allowed = deployers(config, env, groups) | approvers(config, env, groups)
    if user in allowed:
        return Decision.allow()
    return Decision(False, f"you can't change {env.name}", tuple(sorted(allowed)))


def may_promote(config: Config, env: Environment, user: str, groups: Groups) -> Decision:
    """Skipping the rest of a canary's analysis: the environment's approvers only."""
    allowed = approvers(config, env, groups)
    if user in allowed:
        return Decision.allow()
    return Decision(
        False, f"only an approver of {env.name} can promote a canary", tuple(sorted(allowed))
    )


@dataclass(frozen=True)
class Approval:
    approver: str
    decision: str  # "approve" or "reject"
    at: datetime


def may_approve(
    config: Config,
    env: Environment,
    user: str,
    requester: str,
    previous: Iterable[Approval],
    groups: Groups,
) -> Decision:
    allowed = approvers(config, env, groups)
    others = tuple(sorted(allowed - {requester}))
    if user not in allowed:
        return Decision(False, f"you can't approve changes to {env.name}", others)
    if user == requester and not env.approvals.allow_self_approval:
        return Decision(False, "you can't approve your own request", others)
    if any(a.approver == user for a in previous):
        return Decision(False, "you have already answered this request")
    return Decision.allow()


def approvals_count(previous: Iterable[Approval]) -> int:
    return sum(1 for a in previous if a.decision == "approve")


def expires_at(env: Environment, requested_at: datetime) -> datetime:
    return requested_at + env.approvals.expires_after


def active_freeze(config: Config, env_name: str, now: datetime) -> Freeze | None:
    for freeze in config.freezes:
        if freeze.environments and env_name not in freeze.environments:
            continue
        if in_window(freeze, now):
            return freeze
    return None


def in_window(freeze: Freeze, now: datetime) -> bool:
    zone = ZoneInfo(freeze.timezone)
    local = now.astimezone(zone)
    if freeze.weekly is None:
        assert freeze.start is not None and freeze.end is not None
        start = datetime.fromisoformat(freeze.start).replace(tzinfo=zone)
        end = datetime.fromisoformat(freeze.end).replace(tzinfo=zone)
        return start <= local < end
    opens_at, closes_at = _clock(freeze.weekly.start), _clock(freeze.weekly.end)
    days = freeze.weekly.days
    # A window whose end is not after its start runs past midnight into the next day.
    for offset in (0, 1):
        day = local.date() - timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in days:
            continue
        opens = datetime.combine(day, time(0), zone) + opens_at
        closes = datetime.combine(day, time(0), zone) + closes_at
        if closes <= opens:
            closes += timedelta(days=1)
        if opens <= local < closes:
            return True
    return False


def _clock(text: str) -> timedelta:
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))
