"""`deploybot check --live`: can we reach Slack and the Azure resources the config names?"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TextIO

from slack_sdk.errors import SlackApiError

from bot import assemble
from bot.settings import Settings
from commands.platform.errors import PlatformError

NO_CREDENTIALS = (
    "azure: no usable Azure credentials found. DefaultAzureCredential looks for "
    "AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH), "
    "workload identity (AZURE_FEDERATED_TOKEN_FILE), a managed identity, then a login by "
    "`az login`, Azure PowerShell or `azd auth login` (DEPLOYBOT_LOG_LEVEL=INFO shows each try)"
)


def _ignore(
    operation: str, resource: str, outcome: str, duration_s: float, error_code: str | None
) -> None:
    return None


async def live_checks(settings: Settings, out: TextIO) -> list[str]:
    problems = [*await _slack(settings, out), *await _azure(settings, out)]
    for problem in problems:
        print(f"  ✗ {problem}", file=out)
    print(f"live checks: {'OK' if not problems else f'{len(problems)} problem(s)'}", file=out)
    return problems


async def _slack(settings: Settings, out: TextIO) -> list[str]:
    if settings.runtime.slack_bot_token is None:
        return ["slack: SLACK_BOT_TOKEN is not set"]
    client = assemble.slack_client(settings)
    try:
        reply = await client.auth_test()
    except SlackApiError as error:
        return [f"slack: auth.test answered {error.response.get('error')}"]
    except Exception as error:  # the network, DNS, TLS: report and go on
        where = settings.runtime.slack_api_url or assemble.SLACK_API
        return [f"slack: cannot reach {where} ({type(error).__name__})"]
    print(f"  ✓ slack: {reply.get('team')} as {reply.get('user')}", file=out)
    return []


async def _azure(settings: Settings, out: TextIO) -> list[str]:
    problems = []
    with _identity_quiet():
        try:
            platform = await assemble.azure_platform(settings, _ignore)
        except PlatformError as error:
            return [f"azure: {error}"]
        try:
            for env in settings.config.environments.values():
                try:
                    state = await platform.read_state(env)
                except PlatformError as error:
                    if error.code == "CredentialFailed":  # the same for every environment
                        return [NO_CREDENTIALS]
                    problems.append(f"azure {env.name}: {error}")
                    continue
                split = ", ".join(
                    f"{t.name} {t.version} {t.traffic_percent:g}%" for t in state.targets
                )
                print(
                    f"  ✓ azure {env.name}: {state.live} serves {state.live_version} ({split})",
                    file=out,
                )
        finally:
            await platform.close()
    return problems


@contextlib.contextmanager
def _identity_quiet() -> Iterator[None]:
    """azure-identity logs a dozen-line WARNING for every token it fails to get; we say it in
    one line instead. Left alone when the user asked for INFO or DEBUG."""
    logger = logging.getLogger("azure.identity")
    if logger.isEnabledFor(logging.INFO):
        yield
        return
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
