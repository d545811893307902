"""Typed errors for everything that can go wrong talking to the cloud.

Each error carries the operation we attempted, the resource (a short human label such as
``virtualqueue-staging/green``), Azure's error code and message, and the HTTP status when
there was one. ``str()`` is one sentence that reads well in a Slack thread.
"""

from __future__ import annotations


class PlatformError(Exception):
    """A cloud operation failed; nothing raw from the SDK escapes the platform layer."""

    kind = "failed"
    retry_after_s: float | None = None
    """What the server asked us to wait before trying again (429, some 503s)."""

    def __init__(
        self,
        operation: str,
        resource: str,
        code: str,
        message: str,
        status: int | None = None,
    ) -> None:
        super().__init__(operation, resource, code, message, status)
        self.operation = operation
        self.resource = resource
        self.code = code
        self.message = message
        self.status = status

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status else ""
        message = self.message.strip().rstrip(".")
        return f"{self.operation} on {self.resource} {self.kind}: {self.code}{where}: {message}"


class NotFound(PlatformError):
    kind = "found nothing"


class Conflict(PlatformError):
    kind = "conflicted"


class SwapFailed(Conflict):
    kind = "failed"


class Throttled(PlatformError):
    kind = "was throttled"

    def __init__(
        self,
        operation: str,
        resource: str,
        code: str,
        message: str,
        status: int | None = 429,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(operation, resource, code, message, status)
        self.retry_after_s = retry_after_s


class ServerError(PlatformError):
    kind = "hit a server error"


class Unreachable(PlatformError):
    kind = "could not connect"


class PlatformTimeout(PlatformError):
    kind = "timed out"


class AuthFailed(PlatformError):
    kind = "was not authorised"


class InvalidRequest(PlatformError):
    kind = "was refused"


__all__ = [
    "AuthFailed",
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PlatformError",
    "PlatformTimeout",
    "ServerError",
    "SwapFailed",
    "Throttled",
    "Unreachable",
]
