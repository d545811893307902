"""Button clicks and the reject-reason dialog."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.reply import reply
from bot.render import answers
from bot.render import deploys as rendering
from bot.services import Services
from bot.settings import Settings
from commands import policy
from commands.deploys import Deploys
from commands.jobs.canary_control import ACTIONS, Action
from commands.plan import Plan
from storage import Deployment

log = logging.getLogger(__name__)
REJECT_VIEW = "deploy.reject_reason"


@dataclass(frozen=True)
class Click:
    deploys: Deploys
    user: str
    #: As the click read it, before acting: a handler that must judge fresh state reads again.
    deployment: Deployment
    groups: dict[str, frozenset[str]]
    body: dict[str, Any]


CardClick = Callable[[Click, AsyncWebClient], Awaitable[dict[str, Any] | None]]


def register(app: AsyncApp, settings: Settings, services: Services) -> None:
    config = settings.config

    async def groups(environment: str) -> dict[str, frozenset[str]]:
        env = config.environments[environment]
        return await services.directory.groups(
            policy.group_ids(config, (*env.deployers, *env.approvals.approvers))
        )

    async def environment_of(deployment_id: str) -> str | None:
        d = await services.store.deployments.get(deployment_id)
        return d.environment if d else None

    async def guarded(
        body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, work: Any
    ) -> None:
        try:
            answer = await work
        except Exception:
            reference = services.new_reference()
            log.exception("button failed (reference %s)", reference)
            answer = answers.error_reference(reference)
        if answer is not None:
            await reply(body, respond, client, answer, services.responses)

    def card_button(handler: CardClick) -> Callable[..., Awaitable[None]]:
        """A listener for a button on a deployment's card: ack, find it, act, answer."""

        async def listener(
            ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
        ) -> None:
            await ack()
            user, deployment_id = _who_and_what(body)

            async def work() -> dict[str, Any] | None:
                found = await services.store.deployments.get(deployment_id)
                # Queued ahead of any row the click leads to; the click acts without waiting
                # for its commit: a Roll back reaches the watching job sooner.
                received = await services.store.audit.queue(
                    user,
                    "click.received",
                    environment=found.environment if found else None,
                    deployment_id=deployment_id or None,
                    details={"action": body["actions"][0].get("action_id")},
                )
                try:
                    if found is None:
                        return answers.message("I don't know that deployment.")
                    groups_ = await groups(found.environment)
                    click = Click(services.deploys, user, found, groups_, body)
                    return await handler(click, client)
                finally:
                    await received

            services.tasks.spawn(
                guarded(body, respond, client, work()), name=f"click:{deployment_id}"
            )

        return listener

    async def approve(click: Click, client: AsyncWebClient) -> dict[str, Any] | None:
        result = await click.deploys.approve(click.user, click.deployment.id, click.groups)
        return rendering.click_answer(result)

    async def reject(click: Click, client: AsyncWebClient) -> dict[str, Any] | None:
        found = await click.deploys.may_reject(click.user, click.deployment.id, click.groups)
        if not isinstance(found, Deployment):
            return rendering.click_answer(found)
        view = rendering.reject_dialog(found)
        await client.views_open(trigger_id=click.body["trigger_id"], view=view)
        return None

    async def roll_back(click: Click, client: AsyncWebClient) -> dict[str, Any] | None:
        result = await click.deploys.rollback_deployment(click.user, click.deployment, click.groups)
        return rendering.started_answer(result, services.clock())

    async def on_reject_reason(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        services.tasks.spawn(reject_with_reason(body, client), name="reject-reason")

    async def reject_with_reason(body: dict[str, Any], client: AsyncWebClient) -> None:
        view = body.get("view") or {}
        user = str(body.get("user", {}).get("id", ""))
        deployment_id = str(view.get("private_metadata", ""))
        values = view.get("state", {}).get("values", {})
        reason = values.get("reason", {}).get("reason", {}).get("value") or None
        env = await environment_of(deployment_id)
        if env is None:
            return
        result = await services.deploys.reject(user, deployment_id, reason, await groups(env))
        message = rendering.click_answer(result)
        channel = config.environments[env].channel
        await client.chat_postEphemeral(
            channel=channel, user=user, text=message["text"], blocks=message.get("blocks")
        )

    async def on_confirm_rollback(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user = str(body["user"]["id"])
        action = body["actions"][0]

        async def work() -> dict[str, Any] | None:
            await services.store.audit.append(
                user, "click.received", details={"action": action.get("action_id")}
            )
            try:
                chosen = json.loads(action["value"])
                env, version, reason = (
                    chosen["environment"],
                    chosen["version"],
                    chosen.get("reason"),
                )
            except (ValueError, KeyError, TypeError):
                return answers.message("That button is broken; type /rollback again.")
            if env not in config.environments:
                return answers.message("I don't know that environment.")
            key = f"rollback:{body.get('container', {}).get('message_ts')}:{user}"
            result = await services.deploys.rollback(
                user, env, version, reason, await groups(env), key
            )
            return rendering.started_answer(result, services.clock())

        services.tasks.spawn(guarded(body, respond, client, work()), name="confirm-rollback")

    async def on_queue(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """Queue it, on the answer to a request for a busy environment."""
        await ack()
        user = str(body["user"]["id"])
        action = body["actions"][0]

        async def work() -> dict[str, Any] | None:
            await services.store.audit.append(
                user, "click.received", details={"action": action.get("action_id")}
            )
            found = rendering.queued_request(str(action.get("value", "")))
            if found is None or found[0].environment not in config.environments:
                return answers.message("That button is broken; ask for the deploy again.")
            request, offer = found
            key = f"queue:{offer or action.get('action_ts')}:{user}"
            groups_ = await groups(request.environment)
            result = await services.deploys.request(user, request, groups_, key)
            if isinstance(result, Plan):  # a queued request is never a dry run
                return rendering.plan(result)
            return rendering.started_answer(result, services.clock())

        services.tasks.spawn(guarded(body, respond, client, work()), name="queue-it")

    def steer(action: Action) -> CardClick:
        async def handler(click: Click, client: AsyncWebClient) -> dict[str, Any] | None:
            result = await click.deploys.steer(
                click.user, click.deployment.id, action, click.groups
            )
            return rendering.click_answer(result)

        return handler

    for action in ACTIONS:
        app.action(f"canary.{action}")(card_button(steer(action)))
    app.action("deploy.approve")(card_button(approve))
    app.action("deploy.reject")(card_button(reject))
    app.action("deploy.rollback")(card_button(roll_back))
    app.action("rollback.confirm")(on_confirm_rollback)
    app.action(rendering.QUEUE_ACTION)(on_queue)
    app.view(REJECT_VIEW)(on_reject_reason)


def _who_and_what(body: dict[str, Any]) -> tuple[str, str]:
    return str(body["user"]["id"]), str(body["actions"][0].get("value", ""))
