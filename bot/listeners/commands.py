"""The /deploy, /canary and /rollback slash commands."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.render import answers
from bot.render import deploys as rendering
from bot.services import Services
from bot.settings import Settings
from commands import policy
from commands.deploy_results import ConfirmRollback
from commands.parse import environment_words, parse
from commands.plan import Plan
from commands.requests import Deploy, Help, History, Lock, Rollback, Status, Unlock, UsageError
from commands.results import AlreadyLocked, Locked, NotLocked, Refused, Unlocked

log = logging.getLogger(__name__)
COMMANDS = ("/deploy", "/canary", "/rollback")


def register(app: AsyncApp, settings: Settings, services: Services) -> None:
    config = settings.config
    words = environment_words({e.name: e.aliases for e in config.environments.values()})

    async def on_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        # Answer Slack now; the work runs in the bot's own supervised task set.
        await ack()
        services.tasks.spawn(handle(command, respond), name=f"command:{command.get('command')}")

    async def handle(command: dict[str, Any], respond: AsyncRespond) -> None:
        name = str(command.get("command", ""))
        user = str(command.get("user_id", ""))
        text = str(command.get("text", ""))
        try:
            await services.desk.record(
                user,
                "command.received",
                command=name,
                text=text,
                channel=command.get("channel_id"),
                trigger_id=command.get("trigger_id"),
            )
            request = parse(name, text, words)
            answer = await _answer(request, user, name, text, str(command.get("trigger_id", "")))
            services.metrics.commands.labels(name, "answered").inc()
        except Exception:
            reference = services.new_reference()
            log.exception("command %s %r failed (reference %s)", name, text, reference)
            services.metrics.commands.labels(name, "error").inc()
            answer = answers.error_reference(reference)
        await respond(**answer)

    async def groups_for(environment: str) -> dict[str, frozenset[str]]:
        env = config.environments[environment]
        return await services.directory.groups(
            policy.group_ids(config, (*env.deployers, *env.approvals.approvers))
        )

    async def _answer(
        request: object, user: str, name: str, text: str, trigger_id: str
    ) -> dict[str, Any]:
        desk = services.desk
        now = services.clock()
        if isinstance(request, UsageError):
            await desk.record(
                user, "command.refused", command=name, text=text, reason=request.problem
            )
            return answers.usage(request, text)
        if isinstance(request, Help):
            return answers.help_message(config)
        if isinstance(request, Status):
            return answers.status(await desk.status(request.environment), now)
        if isinstance(request, History):
            return answers.history(await desk.history(request.environment, request.limit))
        if isinstance(request, Lock | Unlock):
            groups = await groups_for(request.environment)
            result: Locked | AlreadyLocked | Unlocked | NotLocked | Refused
            if isinstance(request, Lock):
                result = await desk.lock(user, request.environment, request.reason, groups)
            else:
                result = await desk.unlock(user, request.environment, groups)
            if isinstance(result, Refused):
                return answers.refused(result)
            return answers.lock_result(result, now)
        deploys = services.deploys
        if isinstance(request, Deploy) and deploys is not None:
            groups = await groups_for(request.environment)
            started = await deploys.request(user, request, groups, trigger_id or None)
            if isinstance(started, Plan):
                return rendering.plan(started)
            return rendering.started_answer(started, now)
        if isinstance(request, Rollback) and deploys is not None:
            groups = await groups_for(request.environment)
            confirm = await deploys.confirm_rollback(user, request, groups)
            if isinstance(confirm, ConfirmRollback):
                return rendering.confirm_rollback(confirm)
            return answers.refused(confirm)
        if isinstance(request, Deploy | Rollback):
            env = config.environments[request.environment]
            strategy = (
                request.resolved_strategy(env.strategy) if isinstance(request, Deploy) else None
            )
            await desk.record(
                user,
                "command.understood",
                environment=env.name,
                command=name,
                request=type(request).__name__.lower(),
                version=request.version,
                strategy=strategy,
                reason=request.reason,
            )
            return answers.understood(request, strategy)
        raise TypeError(f"unhandled request {request!r}")

    for name in COMMANDS:
        app.command(name)(on_command)
