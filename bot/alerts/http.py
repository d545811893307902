"""The alert webhook endpoints as Starlette routes, for ``bot.web`` to mount.

Order of checks: the token (401), the size (413), Grafana's signature (401), the payload
(400), then the whole delivery is recorded in one transaction (200). Every refusal and
every accepted alert is an audit row; Slack is told afterwards, in a supervised task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.alerts.auth import signature_problem, token_problem
from bot.tasks import TaskSet
from commands.incidents.alerts import MalformedAlert, Source
from commands.incidents.intake import Intake
from commands.incidents.parse import parse_body

log = logging.getLogger(__name__)
# Azure Monitor's common-schema payloads are at most 256 KB; twice that is plenty for all.
MAX_ALERT_BODY = 512 * 1024
PATHS: dict[str, Source] = {
    "/alerts/alertmanager": "alertmanager",
    "/alerts/azure-monitor": "azure-monitor",
    "/alerts/grafana": "grafana",
}


@dataclass(frozen=True)
class AlertAuth:
    token: str | None
    grafana_secret: str | None = None


class TooLarge(Exception):
    pass


def alert_routes(
    intake: Intake,
    auth: AlertAuth,
    tasks: TaskSet,
    new_reference: Callable[[], str],
    max_body: int = MAX_ALERT_BODY,
) -> list[Route]:
    async def refuse(source: Source, request: Request, status: int, reason: str) -> Response:
        remote = request.client.host if request.client else "?"
        try:
            await intake.refused(source, status, reason, remote)
        except Exception:
            log.exception("could not audit a refused %s alert", source)
        return JSONResponse({"ok": False, "error": reason}, status_code=status)

    def endpoint(source: Source) -> Callable[[Request], object]:
        async def receive(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            problem = token_problem(auth.token, headers, dict(request.query_params))
            if problem:
                return await refuse(source, request, 401, problem)
            try:
                body = await _bounded_body(request, max_body)
            except TooLarge:
                return await refuse(source, request, 413, f"body over {max_body} bytes")
            except ClientDisconnect:
                return JSONResponse({"ok": False, "error": "client went away"}, status_code=400)
            if source == "grafana" and (
                problem := signature_problem(auth.grafana_secret, headers, body)
            ):
                return await refuse(source, request, 401, problem)
            try:
                batch = parse_body(source, body)
            except MalformedAlert as error:
                return await refuse(source, request, 400, str(error))
            try:
                accepted = await intake.receive(batch)
            except Exception:
                reference = new_reference()
                log.exception("recording a %s alert failed (reference %s)", source, reference)
                # Nothing was recorded: the sender's retry (5xx) loses nothing.
                return JSONResponse(
                    {"ok": False, "error": f"could not record the alert (reference {reference})"},
                    status_code=503,
                )
            tasks.spawn(intake.announce(accepted), name=f"incident:{source}")
            return JSONResponse({"ok": True, **accepted.summary})

        return receive

    return [Route(path, endpoint(source), methods=["POST"]) for path, source in PATHS.items()]


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
