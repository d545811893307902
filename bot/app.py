"""The Bolt app: built from settings and services, never at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped

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
    with _no_unused_token_warning():
        app = AsyncApp(
            # Named, or Bolt names the app after its caller's file through inspect.stack(),
            # which reads the source of every frame on the stack: ~100 ms of every start-up.
            name="deploybot",
            client=services.slack,
            signing_secret=signing_secret.reveal() if signing_secret else None,
            request_verification_enabled=signing_secret is not None,
            process_before_response=process_before_response,
        )
    commands.register(app, settings, services)
    actions.register(app, settings, services)
    return app


class _UnusedTokenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


@contextlib.contextmanager
def _no_unused_token_warning() -> Iterator[None]:
    """AsyncApp reads SLACK_BOT_TOKEN itself and, given a client as well, warns that the
    token "will be unused". We never pass a token: the client carries the one the settings
    hold, so nothing is unused. Only that warning, only while the app is built, is dropped."""
    bolt_logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    quiet = _UnusedTokenFilter()
    bolt_logger.addFilter(quiet)
    try:
        yield
    finally:
        bolt_logger.removeFilter(quiet)
