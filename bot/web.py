"""The HTTP server: /slack/events, /healthz, /readyz and /metrics, as one Starlette app.

Every metric a request feeds is updated before its response is returned, so a client that
has seen the response and then reads /metrics sees it counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot import envelope, signing
from bot.incidents.render import ACK, RESOLVE, ROLLBACK, UNACK
from bot.listeners.actions import REJECT_VIEW
from bot.listeners.commands import COMMANDS
from bot.quiet import Summary
from bot.render.deploys import QUEUE_ACTION
from bot.services import Services
from commands.jobs.canary_control import ACTIONS

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000
#: What the listeners in bot/listeners register; tests/bot/test_envelope_listeners.py fails
#: if this and the registrations drift apart.
LISTENERS = envelope.Listeners(
    commands=frozenset(COMMANDS),
    actions=frozenset(
        {"deploy.approve", "deploy.reject", "deploy.rollback", "rollback.confirm", QUEUE_ACTION}
        | {ACK, UNACK, RESOLVE, ROLLBACK}  # the incident card's buttons
        | {f"canary.{action}" for action in ACTIONS}
    ),
    views=frozenset({REJECT_VIEW}),
)
REFUSED = "slack.request_refused"


def create_web(
    bolt: AsyncApp,
    services: Services,
    signing_secret: str | None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """``extra_routes``: mounted beside these (the /alerts/* webhooks, ``bot.alerts.http``).

    ``signing_secret`` None (Socket Mode) means there is no /slack/events route at all:
    events come over the socket, and nothing unsigned is ever dispatched."""
    metrics = services.metrics
    readiness = services.readiness
    # Bolt parses the body before it checks the signature, so a forged, malformed body would
    # become a 500 inside Bolt: check the signature here first.
    secret = signing_secret.encode() if signing_secret else None
    # Anyone can send unsigned requests: they are counted, never audited, and logged only
    # as one summary a minute, so they cannot flood the audit log or the log.
    unsigned = Summary(log, "refused unsigned requests on /slack/events")

    async def refuse(refused: envelope.Refused) -> Response:
        """A signed request Bolt must not see: one audit row, a 4xx, no traceback."""
        metrics.slack_refused.labels("envelope", refused.reason).inc()
        metrics.slack_requests.labels("bad_request" if refused.status == 400 else "not_found").inc()
        try:
            await services.store.audit.append(
                refused.actor or "slack", REFUSED, details=refused.details()
            )
        except Exception as error:  # the refusal stands even if it could not be recorded
            log.warning("could not audit a refused Slack request (%s): %s", refused.reason, error)
        return PlainTextResponse(f"request refused: {refused.reason}", refused.status)

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        if len(body) > MAX_BODY:
            metrics.slack_requests.labels("too_large").inc()
            return PlainTextResponse("request too large", status_code=413)
        unauthorized = (
            signing.refusal(
                secret,
                body,
                request.headers.getlist("x-slack-request-timestamp"),
                request.headers.getlist("x-slack-signature"),
                time.time(),
            )
            if secret
            else "missing"
        )
        if unauthorized is not None:
            metrics.slack_requests.labels("unauthorized").inc()
            metrics.slack_refused.labels("signature", unauthorized).inc()
            unsigned.note(unauthorized)
            return PlainTextResponse("invalid request signature or timestamp", status_code=401)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return await refuse(envelope.Refused("unreadable", "bytes"))
        # Bolt reads the last of repeated headers, so the content type is judged on that too.
        headers: dict[str, str | Sequence[str]] = {k: [v] for k, v in request.headers.items()}
        types = request.headers.getlist("content-type")
        content_type = (types[-1] if types else "").split(";")[0] or None
        verdict = envelope.check(text, content_type, LISTENERS)
        if isinstance(verdict, envelope.Refused):
            return await refuse(verdict)
        try:
            bolt_request = AsyncBoltRequest(
                body=text, query=dict(request.query_params), headers=headers
            )
        except Exception:
            # Bolt's context builder read a field the envelope check does not know about;
            # refused like any other malformed body rather than a 500.
            return await refuse(envelope.Refused("unreadable", "bolt"))
        dispatched = time.perf_counter()
        bolt_response = await bolt.async_dispatch(bolt_request)
        # Listeners ack and hand their work to a task, so dispatch time is the ack time.
        metrics.slack_ack_seconds.observe(time.perf_counter() - dispatched)
        outcome = {200: "ok", 401: "unauthorized"}.get(
            bolt_response.status, str(bolt_response.status)
        )
        metrics.slack_requests.labels(outcome).inc()
        command = bolt_request.body.get("command")
        if bolt_response.status == 200 and isinstance(command, str):
            # Counted here, before the ack goes out: the answer is worked out later, in a task.
            # Only commands a listener took (200) get a series, so the labels stay bounded.
            metrics.slack_commands.labels(command).inc()
        metrics.request_seconds.observe(time.perf_counter() - started)
        return Response(
            content=bolt_response.body,
            status_code=bolt_response.status,
            headers=bolt_response.first_headers_without_set_cookie(),
        )

    async def healthz(_: Request) -> Response:
        try:
            await services.store.ping()
        except Exception as error:
            log.warning("health check: database unavailable: %s", error)
            return JSONResponse({"status": "unhealthy", "database": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    async def readyz(_: Request) -> Response:
        """Ready once the database is open, Slack accepted the token and ARM answered."""
        return JSONResponse(readiness.status(), status_code=200 if readiness.ready else 503)

    async def prometheus(_: Request) -> Response:
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")

    return Starlette(
        routes=[
            *([Route("/slack/events", slack_events, methods=["POST"])] if secret else []),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *extra_routes,
        ]
    )
