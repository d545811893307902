"""The incident card's buttons: [Roll back to vX], [Acknowledge]/[Unacknowledge], [Resolve].

Thin: ack, audit the click, hand the work to ``commands.incidents.responding`` in a
supervised task, answer the clicker ephemerally. Slack's own confirm dialog on the Roll back
button (naming both versions) has already been accepted when the click arrives.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.incidents.render import ACK, RESOLVE, ROLLBACK, UNACK
from bot.render import answers
from bot.render import deploys as rendering
from bot.services import Services
from bot.settings import Settings
from commands import policy
from commands.deploy_results import Answer
from commands.incidents.responding import Responder
from commands.results import Refused

log = logging.getLogger(__name__)
Work = Callable[[str, str], Awaitable[dict[str, Any]]]


def register(app: AsyncApp, settings: Settings, services: Services, responder: Responder) -> None:
    config = settings.config

    async def groups(environment: str | None) -> dict[str, frozenset[str]]:
        if environment is None or environment not in config.environments:
            return {}
        # Rolling back from an incident is for the environment's deployers only.
        env = config.environments[environment]
        return await services.directory.groups(policy.group_ids(config, env.deployers))

    def button(work: Work) -> Callable[..., Awaitable[None]]:
        async def listener(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
            await ack()
            user = str(body.get("user", {}).get("id", ""))
            action = (body.get("actions") or [{}])[0]
            incident_id = str(action.get("value", ""))

            async def run() -> None:
                try:
                    incident = await responder.incidents.get(incident_id)
                    await services.store.audit.append(
                        user or "unknown",
                        "click.received",
                        environment=incident.environment if incident else None,
                        details={"action": action.get("action_id"), "incident": incident_id},
                    )
                    answer = (
                        answers.message("I don't know that incident.")
                        if incident is None
                        else await work(user, incident_id)
                    )
                except Exception:
                    reference = services.new_reference()
                    log.exception("incident button failed (reference %s)", reference)
                    answer = answers.error_reference(reference)
                await respond(**answer, replace_original=False)

            services.tasks.spawn(run(), name=f"incident-click:{incident_id}")

        return listener

    def simple(result: Answer | Refused) -> dict[str, Any]:
        return rendering.click_answer(result)

    async def acknowledge(user: str, incident_id: str) -> dict[str, Any]:
        return simple(await responder.acknowledge(user, incident_id))

    async def unacknowledge(user: str, incident_id: str) -> dict[str, Any]:
        return simple(await responder.unacknowledge(user, incident_id))

    async def resolve(user: str, incident_id: str) -> dict[str, Any]:
        return simple(await responder.resolve(user, incident_id))

    async def roll_back(user: str, incident_id: str) -> dict[str, Any]:
        incident = await responder.incidents.get(incident_id)
        env = incident.environment if incident else None
        result = await responder.rollback(user, incident_id, await groups(env))
        return rendering.started_answer(result, services.clock())

    app.action(ACK)(button(acknowledge))
    app.action(UNACK)(button(unacknowledge))
    app.action(RESOLVE)(button(resolve))
    app.action(ROLLBACK)(button(roll_back))
