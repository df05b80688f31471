"""gigq_client: submit and watch jobs in a SQLite (or PostgreSQL) job queue (a drop-in for the GigQ API)."""

from __future__ import annotations

from typing import Any

from .errors import (
    AccessDenied,
    DatabaseLocked,
    DatabaseNotFound,
    DatabaseUnavailable,
    DriverMissing,
    GigqError,
    JobNotFound,
    JobValidationError,
    JobWaitTimeout,
    ParamsNotSerializable,
    ReadOnlyStore,
    SchemaVersionError,
    StoreError,
    StatementTimeout,
    StoreFull,
    UnknownDependency,
)
from .jobs import Job, JobStatus
from .logs import setup_logging
from .queue import JobQueue, close_connections
from .workflow import TaskWrapper, Workflow, task

__version__ = "0.1.0"

__all__ = [
    "Job", "JobQueue", "JobStatus", "Workflow", "Worker", "task", "TaskWrapper",
    "close_connections", "setup_logging",
    "GigqError", "StoreError", "SchemaVersionError", "DatabaseLocked", "StoreFull", "ReadOnlyStore",
    "DriverMissing", "DatabaseUnavailable", "AccessDenied", "DatabaseNotFound", "StatementTimeout",
    "JobValidationError", "UnknownDependency", "ParamsNotSerializable", "JobNotFound", "JobWaitTimeout",
]


def __getattr__(name: str) -> Any:
    # GigQ exported Worker next to JobQueue. Ours runs in the daemon package, which
    # ships in the same distribution; it is imported only when asked for, so
    # gigq_client itself stays standard-library only.
    if name == "Worker":
        from gigqd.embedded import Worker

        return Worker
    raise AttributeError(f"module 'gigq_client' has no attribute {name!r}")
