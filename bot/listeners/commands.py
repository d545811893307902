"""The /deploy, /canary and /rollback slash commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, assert_never

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.incidents.stats import stats_reply
from bot.listeners.reply import answer_command
from bot.render import answers
from bot.render import deploys as rendering
from bot.services import Services
from bot.settings import Settings
from commands import policy
from commands.deploy_results import ConfirmRollback
from commands.parse import environment_words, parse
from commands.plan import Plan
from commands.requests import (
    Cancel,
    Deploy,
    Help,
    History,
    Lock,
    Request,
    Rollback,
    Stats,
    Status,
    Unlock,
    UsageError,
)
from commands.results import Refused, Unlocked

log = logging.getLogger(__name__)
COMMANDS = ("/deploy", "/canary", "/rollback")
# Answered without waiting for the command.received row (a usage error writes its refusal
# after that row, so it waits).
READS = (Help, Status, History, Stats)


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

        def received() -> Coroutine[Any, Any, None]:
            return services.desk.record(
                user,
                "command.received",
                command=name,
                text=text,
                channel=command.get("channel_id"),
                trigger_id=command.get("trigger_id"),
            )

        audit: asyncio.Future[None] | None = None
        try:
            request = parse(name, text, words)
            if isinstance(request, READS):
                # A read changes nothing, so its answer need not wait for its audit row to
                # commit (a group commit behind every other writer, under load); the row is
                # still written, and awaited below.
                audit = asyncio.ensure_future(received())
            else:
                await received()
            trigger, channel = str(command.get("trigger_id", "")), command.get("channel_id")
            answer = await _answer(request, user, name, text, trigger, channel)
            services.metrics.commands.labels(name, "answered").inc()
        except Exception:
            reference = services.new_reference()
            log.exception("command %s %r failed (reference %s)", name, text, reference)
            services.metrics.commands.labels(name, "error").inc()
            answer = answers.error_reference(reference)
        await answer_command(services.responses, respond, answer)
        if audit is not None:
            try:
                await audit
            except Exception:
                log.exception("command %s %r: its command.received row was not written", name, text)

    async def groups_for(environment: str) -> dict[str, frozenset[str]]:
        env = config.environments[environment]
        return await services.directory.groups(
            policy.group_ids(config, (*env.deployers, *env.approvals.approvers))
        )

    async def _answer(
        request: Request | UsageError,
        user: str,
        name: str,
        text: str,
        trigger_id: str,
        channel: str | None,
    ) -> dict[str, Any]:
        desk, deploys = services.desk, services.deploys
        now = services.clock()
        match request:
            case UsageError():
                await desk.record(
                    user, "command.refused", command=name, text=text, reason=request.problem
                )
                return answers.usage(request, text)
            case Help():
                return answers.help_message(config)
            case Stats():
                return await stats_reply(
                    services.store, config, services.slack, request, now, channel
                )
            case Status():
                board = await desk.status(request.environment)
                return answers.status(board, services.clock())  # the reads may be newer than now
            case History():
                return answers.history(await desk.history(request.environment, request.limit))
            case Lock():
                groups = await groups_for(request.environment)
                locked = await desk.lock(user, request.environment, request.reason, groups)
                return (
                    answers.refused(locked)
                    if isinstance(locked, Refused)
                    else (answers.lock_result(locked, now))
                )
            case Unlock():
                groups = await groups_for(request.environment)
                unlocked = await desk.unlock(user, request.environment, groups)
                if isinstance(unlocked, Unlocked):
                    await deploys.freed(request.environment)
                return (
                    answers.refused(unlocked)
                    if isinstance(unlocked, Refused)
                    else (answers.lock_result(unlocked, now))
                )
            case Cancel():
                environment = request.environment or await environment_of(request.deployment_id)
                groups = await groups_for(environment) if environment else {}
                cancelled = await deploys.cancel(user, request, groups)
                if isinstance(cancelled, Refused):
                    return answers.refused(cancelled)
                return answers.message(cancelled.text)
            case Deploy():
                groups = await groups_for(request.environment)
                started = await deploys.request(user, request, groups, trigger_id or None)
                if isinstance(started, Plan):
                    return rendering.plan(started)
                return rendering.started_answer(started, now)
            case Rollback():
                groups = await groups_for(request.environment)
                confirm = await deploys.confirm_rollback(user, request, groups)
                if isinstance(confirm, ConfirmRollback):
                    return rendering.confirm_rollback(confirm)
                return answers.refused(confirm)
            case _:
                assert_never(request)

    async def environment_of(deployment_id: str | None) -> str | None:
        found = await services.store.deployments.get(deployment_id) if deployment_id else None
        return found.environment if found and found.environment in config.environments else None

    for name in COMMANDS:
        app.command(name)(on_command)
