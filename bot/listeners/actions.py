"""Button clicks and the reject-reason dialog."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.render import answers
from bot.render import deploys as rendering
from bot.services import Services
from bot.settings import Settings
from commands import policy
from storage import Deployment

log = logging.getLogger(__name__)
REJECT_VIEW = "deploy.reject_reason"


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

    async def guarded(respond: AsyncRespond, work: Any) -> None:
        try:
            answer = await work
        except Exception:
            reference = services.new_reference()
            log.exception("button failed (reference %s)", reference)
            answer = answers.error_reference(reference)
        if answer is not None:
            await respond(**answer, replace_original=False)

    async def on_approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user, deployment_id = _who_and_what(body)

        async def work() -> dict[str, Any] | None:
            env = await environment_of(deployment_id)
            if env is None or services.deploys is None:
                return answers.message("I don't know that deployment.")
            result = await services.deploys.approve(user, deployment_id, await groups(env))
            return rendering.click_answer(result)

        await guarded(respond, work())

    async def on_reject(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user, deployment_id = _who_and_what(body)

        async def work() -> dict[str, Any] | None:
            env = await environment_of(deployment_id)
            if env is None or services.deploys is None:
                return answers.message("I don't know that deployment.")
            found = await services.deploys.may_reject(user, deployment_id, await groups(env))
            if not isinstance(found, Deployment):
                return rendering.click_answer(found)
            await client.views_open(
                trigger_id=body["trigger_id"], view=rendering.reject_dialog(found)
            )
            return None

        await guarded(respond, work())

    async def on_reject_reason(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = body.get("view") or {}
        user = str(body.get("user", {}).get("id", ""))
        deployment_id = str(view.get("private_metadata", ""))
        values = view.get("state", {}).get("values", {})
        reason = values.get("reason", {}).get("reason", {}).get("value") or None
        env = await environment_of(deployment_id)
        if env is None or services.deploys is None:
            return
        result = await services.deploys.reject(user, deployment_id, reason, await groups(env))
        message = rendering.click_answer(result)
        channel = config.environments[env].channel
        await client.chat_postEphemeral(
            channel=channel, user=user, text=message["text"], blocks=message.get("blocks")
        )

    async def on_rollback(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user, deployment_id = _who_and_what(body)

        async def work() -> dict[str, Any] | None:
            env = await environment_of(deployment_id)
            if env is None or services.deploys is None:
                return answers.message("I don't know that deployment.")
            result = await services.deploys.rollback_deployment(
                user, deployment_id, await groups(env)
            )
            return rendering.started_answer(result, services.clock())

        await guarded(respond, work())

    async def on_confirm_rollback(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        user = str(body["user"]["id"])
        action = body["actions"][0]

        async def work() -> dict[str, Any] | None:
            try:
                chosen = json.loads(action["value"])
                env, version, reason = (
                    chosen["environment"],
                    chosen["version"],
                    chosen.get("reason"),
                )
            except (ValueError, KeyError, TypeError):
                return answers.message("That button is broken; type /rollback again.")
            if env not in config.environments or services.deploys is None:
                return answers.message("I don't know that environment.")
            key = f"rollback:{body.get('container', {}).get('message_ts')}:{user}"
            result = await services.deploys.rollback(
                user, env, version, reason, await groups(env), key
            )
            return rendering.started_answer(result, services.clock())

        await guarded(respond, work())

    app.action("deploy.approve")(on_approve)
    app.action("deploy.reject")(on_reject)
    app.action("deploy.rollback")(on_rollback)
    app.action("rollback.confirm")(on_confirm_rollback)
    app.view(REJECT_VIEW)(on_reject_reason)


def _who_and_what(body: dict[str, Any]) -> tuple[str, str]:
    return str(body["user"]["id"]), str(body["actions"][0].get("value", ""))
