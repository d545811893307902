"""The Bolt app: built from settings and services, never at import time."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands
from bot.services import Services
from bot.settings import Settings


def create_app(
    settings: Settings, services: Services, *, process_before_response: bool = True
) -> AsyncApp:
    """Listeners ack and hand their work to ``services.tasks``, so Bolt may wait for them
    (``process_before_response``) and still answer Slack at once: without it, Bolt polls for
    the ack every 10 ms and keeps the rest as unsupervised tasks."""
    signing_secret = settings.runtime.slack_signing_secret
    app = AsyncApp(
        client=services.slack,
        signing_secret=signing_secret.reveal() if signing_secret else None,
        request_verification_enabled=signing_secret is not None,
        process_before_response=process_before_response,
    )
    commands.register(app, settings, services)
    actions.register(app, settings, services)
    return app
