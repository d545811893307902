"""Tables for running jobs on several replicas (revision 0011 creates exactly these).

``job_leases``: which deploybot process runs a deployment's job, until when. ``job_signals``:
a person's wish for a running job (roll back, pause, promote, …) made on any replica, taken
by the replica that holds the job's lease.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class JobLeaseRow(Base):
    __tablename__ = "job_leases"

    deployment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class JobSignalRow(Base):
    __tablename__ = "job_signals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    # Set when the replica running the job has taken the signal; never taken twice.
    taken_at: Mapped[datetime | None]
    taken_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_job_signals_deployment_id_taken_at", "deployment_id", "taken_at"),)
