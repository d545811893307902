"""The one error type the sandbox raises at its Python and admin API boundaries."""

from __future__ import annotations


class SandboxError(ValueError):
    """Bad input to the sandbox (unknown app, out-of-range fault, invalid system)."""


class ResourceConflict(SandboxError):
    """The resource is busy (a swap in progress, a preview already applied)."""
