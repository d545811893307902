"""Typed errors raised by the storage layer.

Every failure a caller can reasonably handle is one of these; the message is a sentence
a person can act on.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class for every error raised by the storage package."""


class DatabaseOpenError(StorageError):
    """The database URL is unusable, or the database cannot be opened."""


class SchemaError(StorageError):
    """The database schema cannot be brought to the revision this code expects."""


class InvalidValueError(StorageError, ValueError):
    """A caller passed a value the storage layer refuses (wrong kind, naive time, …)."""


class NotFoundError(StorageError, LookupError):
    """The row a caller referred to does not exist."""


class AuditIntegrityError(StorageError):
    """The audit log's bookkeeping is damaged so badly that appending is unsafe."""
