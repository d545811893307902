"""The ARM front end: authentication, api-version, injected faults, errors, paging, recording."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from commands.platform.sandbox.errors import ResourceConflict, SandboxError
from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.recording import ArmLog, RecordedRequest
from commands.platform.sandbox.router import NoRoute, Router

log = logging.getLogger(__name__)
PAGE_SIZE = 20


class ArmError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def not_found(kind: str, name: str, resource_group: str | None = None) -> ArmError:
    where = f" under resource group '{resource_group}'" if resource_group else ""
    return ArmError(404, "ResourceNotFound", f"The Resource '{kind}/{name}'{where} was not found.")


def arm_json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def error_response(error: ArmError) -> web.Response:
    body = {"error": {"code": error.code, "message": error.message}}
    return arm_json(body, error.status, error.headers)


@dataclass
class ArmCall:
    request: web.BaseRequest
    params: dict[str, str]
    body: bytes
    api_version: str
    _parsed: Any = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"{self.request.scheme}://{self.request.host}"

    def json(self) -> dict[str, Any]:
        if self._parsed is None:
            try:
                self._parsed = json.loads(self.body or b"{}")
            except (ValueError, UnicodeDecodeError):
                raise ArmError(
                    400, "InvalidRequestContent", "The request content was invalid JSON."
                ) from None
        if not isinstance(self._parsed, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be an object.")
        return self._parsed

    def properties(self) -> dict[str, Any]:
        props = self.json().get("properties", {})
        if props is None:
            return {}
        if not isinstance(props, dict):
            raise ArmError(400, "BadRequest", "'properties' must be an object.")
        return props

    def paged(self, items: list[Any]) -> web.Response:
        """``{"value": [...], "nextLink": ...}`` in pages, like ARM list operations."""
        try:
            skip = max(int(self.request.query.get("$skiptoken", "0")), 0)
        except ValueError:
            raise ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from None
        body: dict[str, Any] = {"value": items[skip : skip + PAGE_SIZE]}
        if skip + PAGE_SIZE < len(items):
            query = urlencode({"api-version": self.api_version, "$skiptoken": skip + PAGE_SIZE})
            body["nextLink"] = f"{self.base_url}{self.request.path}?{query}"
        return arm_json(body)


ArmHandler = Callable[[ArmCall], web.Response]


class ArmFrontEnd:
    def __init__(
        self,
        router: Router[ArmHandler],
        faults: Faults,
        token_valid: Callable[[str], bool],
        arm_log: ArmLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._router = router
        self._faults = faults
        self._token_valid = token_valid
        self._log = arm_log
        self._clock = clock

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        api_version = request.query.get("api-version")
        status = 500
        try:
            try:
                response = await self._answer(request, api_version)
            except ArmError as error:
                response = error_response(error)
            status = response.status
            response.headers["x-ms-request-id"] = str(uuid.uuid4())
            return response
        finally:
            self._log.add(
                RecordedRequest(
                    request.method,
                    request.path,
                    dict(request.query),
                    api_version,
                    status,
                    self._clock(),
                )
            )

    async def _answer(self, request: web.BaseRequest, api_version: str | None) -> web.Response:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if not auth:
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        if scheme.lower() != "bearer" or not self._token_valid(token.strip()):
            raise ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.")
        if not api_version:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        await self._injected_fault(request.path)
        try:
            handler, params = self._router.resolve(request.method, request.path)
        except NoRoute as missing:
            if missing.method_not_allowed:
                raise ArmError(
                    405, "MethodNotAllowed", f"The sandbox does not allow {request.method} here."
                ) from None
            raise ArmError(
                404, "NotFound", f"The sandbox does not implement {request.method} {request.path}."
            ) from None
        call = ArmCall(request, params, await request.read(), api_version)
        try:
            return handler(call)
        except ResourceConflict as conflict:
            raise ArmError(409, "Conflict", str(conflict)) from None
        except SandboxError as bad:
            raise ArmError(400, "BadRequest", str(bad)) from None
        except ArmError:
            raise
        except Exception:
            log.exception("sandbox ARM handler failed for %s %s", request.method, request.path)
            raise ArmError(
                500, "InternalServerError", "The sandbox failed to handle this request."
            ) from None

    async def _injected_fault(self, path: str) -> None:
        fault = self._faults.take_arm(path, ("throttle", "server_error", "hang"))
        if fault is None:
            return
        if fault.kind == "hang":
            await self._faults.hang(fault)
        elif fault.kind == "throttle":
            raise ArmError(
                429,
                "TooManyRequests",
                "The request was throttled (injected by the sandbox).",
                {"Retry-After": str(fault.retry_after)},
            )
        else:
            raise ArmError(500, "InternalServerError", "Injected server error (sandbox).")
