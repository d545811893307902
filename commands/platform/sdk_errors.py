"""Turn whatever the Azure SDK raises into a typed ``PlatformError``."""

from __future__ import annotations

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from commands.platform.errors import (
    AuthFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PlatformError,
    ServerError,
    SwapFailed,
    Throttled,
    Unreachable,
)

_RETRY_AFTER_HEADERS = (
    ("retry-after-ms", 0.001),
    ("x-ms-retry-after-ms", 0.001),
    ("retry-after", 1.0),
)


def retry_after_seconds(headers: object) -> float | None:
    """Seconds from Retry-After (or its millisecond variants); None if absent or a date."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in _RETRY_AFTER_HEADERS:
        raw = get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def _arm_code(exc: HttpResponseError) -> str | None:
    code = getattr(exc.error, "code", None) if exc.error is not None else None
    return str(code) if code else None


def _code_and_message(exc: HttpResponseError) -> tuple[str | None, str]:
    error = exc.error
    code = getattr(error, "code", None) if error is not None else None
    message = getattr(error, "message", None) if error is not None else None
    if not message:
        message = exc.reason or exc.message or type(exc).__name__
    return (str(code) if code else None), str(message).splitlines()[0]


def translate(exc: BaseException, operation: str, resource: str) -> PlatformError:
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, ClientAuthenticationError) and not _arm_code(exc):
        # The credential could not get a token (its message names the reason, e.g. AADSTS…).
        return AuthFailed(
            operation, resource, "CredentialFailed", _first_line(exc), exc.status_code
        )
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        return _from_response(exc, operation, resource)
    if isinstance(exc, ServiceRequestError):
        return Unreachable(operation, resource, "ConnectionFailed", _first_line(exc))
    if isinstance(exc, ServiceResponseError):
        return Unreachable(operation, resource, "NoResponse", _first_line(exc))
    if isinstance(exc, HttpResponseError):
        code, message = _code_and_message(exc)
        return PlatformError(operation, resource, code or "Failed", message)
    return PlatformError(operation, resource, "Unexpected", f"{type(exc).__name__}: {exc}")


def _from_response(exc: HttpResponseError, operation: str, resource: str) -> PlatformError:
    status = exc.status_code
    assert status is not None
    code, message = _code_and_message(exc)
    if status in (401, 403):
        return AuthFailed(operation, resource, code or "AuthorizationFailed", message, status)
    if status == 404:
        return NotFound(operation, resource, code or "NotFound", message, status)
    if status == 409:
        if code == "SwapFailed":
            return SwapFailed(operation, resource, code, message, status)
        return Conflict(operation, resource, code or "Conflict", message, status)
    if status == 429:
        retry_after = retry_after_seconds(_headers(exc))
        return Throttled(
            operation, resource, code or "TooManyRequests", message, status, retry_after
        )
    if 400 <= status < 500:
        return InvalidRequest(operation, resource, code or "BadRequest", message, status)
    if status >= 500:
        error = ServerError(operation, resource, code or "InternalServerError", message, status)
        error.retry_after_s = retry_after_seconds(_headers(exc))
        return error
    # A long-running operation that reported "Failed" in a 200 poll body.
    if code == "SwapFailed" or operation == "swap":
        return SwapFailed(operation, resource, code or "SwapFailed", message, status)
    return PlatformError(operation, resource, code or "Failed", message, status)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _headers(exc: HttpResponseError) -> object:
    return getattr(exc.response, "headers", None)
