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
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000


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
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def slack_events(request: Request) -> Response:
        started = time.perf_counter()
        body = await request.body()
        if len(body) > MAX_BODY:
            metrics.slack_requests.labels("too_large").inc()
            return PlainTextResponse("request too large", status_code=413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            metrics.slack_requests.labels("bad_request").inc()
            return PlainTextResponse("body is not UTF-8", status_code=400)
        if verifier is None or not verifier.is_valid_request(body, dict(request.headers)):
            metrics.slack_requests.labels("unauthorized").inc()
            return PlainTextResponse("invalid request signature or timestamp", status_code=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=text,
                query=dict(request.query_params),
                headers={k: [v] for k, v in request.headers.items()},
            )
        except ValueError:
            metrics.slack_requests.labels("bad_request").inc()
            return PlainTextResponse("malformed request body", status_code=400)
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
            *([Route("/slack/events", slack_events, methods=["POST"])] if verifier else []),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
            *extra_routes,
        ]
    )
