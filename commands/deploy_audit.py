"""The audit entry of a decision about a deployment (refused, requested, approved, ...)."""

from __future__ import annotations

from typing import Any

from commands.jobs.base import JobTools


async def audit(
    tools: JobTools,
    actor: str,
    action: str,
    env: str,
    deployment_id: str | None = None,
    **details: Any,
) -> None:
    await tools.store.audit.append(
        actor, action, environment=env, deployment_id=deployment_id, details=details
    )
