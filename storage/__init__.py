"""deploybot's storage layer: the database, the hash-chained audit log and the repositories.

Typical use::

    async with Store.open(default_database_url(Path.cwd()), clock=clock) as store:
        await store.audit.append("U123", "deploy.requested", environment="prod")
"""

from storage.approvals import Approval, Approvals, Decision
from storage.audit import AuditEvent, AuditLog, ExportFormat
from storage.audit_chain import GENESIS_HASH, canonical_details, row_hash
from storage.audit_checkpoint import Checkpoint, parse_checkpoints
from storage.audit_key import AuditKey, Keyring
from storage.audit_verify import VerifyResult
from storage.db import Database, Opening, default_database_url, normalize_url
from storage.deployment_model import (
    TERMINAL_STATES,
    UPDATABLE_FIELDS,
    Deployment,
    DeploymentKind,
    Step,
    StepStatus,
)
from storage.deployments import Deployments
from storage.errors import (
    AuditIntegrityError,
    DatabaseOpenError,
    InvalidValueError,
    NotFoundError,
    SchemaError,
    StorageError,
)
from storage.incidents import Incident, IncidentAlert, Incidents, Received
from storage.job_signals import JobSignal, JobSignals
from storage.leases import Claimed, Lease, Leases
from storage.locks import Lock, LockHeld, LockKind, Locks
from storage.store import Store

__all__ = [
    "GENESIS_HASH",
    "TERMINAL_STATES",
    "UPDATABLE_FIELDS",
    "Approval",
    "Approvals",
    "AuditEvent",
    "AuditIntegrityError",
    "AuditKey",
    "AuditLog",
    "Checkpoint",
    "Claimed",
    "Database",
    "DatabaseOpenError",
    "Decision",
    "Deployment",
    "DeploymentKind",
    "Deployments",
    "ExportFormat",
    "Incident",
    "IncidentAlert",
    "Incidents",
    "InvalidValueError",
    "JobSignal",
    "JobSignals",
    "Keyring",
    "Lease",
    "Leases",
    "Lock",
    "LockHeld",
    "LockKind",
    "Locks",
    "NotFoundError",
    "Opening",
    "Received",
    "SchemaError",
    "Step",
    "StepStatus",
    "StorageError",
    "Store",
    "VerifyResult",
    "canonical_details",
    "default_database_url",
    "normalize_url",
    "parse_checkpoints",
    "row_hash",
]
