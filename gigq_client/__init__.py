"""gigq_client: submit and watch jobs in a SQLite (or PostgreSQL) job queue (a drop-in for the GigQ API)."""

from __future__ import annotations

from .errors import (
    AccessDenied,
    DaemonExited,
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
    StatementTimeout,
    StoreError,
    StoreFull,
    UnknownDependency,
)
from .jobs import Job, JobStatus
from .logs import setup_logging
from .queue import JobQueue, close_connections
from .worker import Worker
from .workflow import TaskWrapper, Workflow, task

__version__ = "0.1.0"

__all__ = [
    "Job", "JobQueue", "JobStatus", "Workflow", "Worker", "task", "TaskWrapper",
    "close_connections", "setup_logging",
    "GigqError", "StoreError", "SchemaVersionError", "DatabaseLocked", "StoreFull", "ReadOnlyStore",
    "DriverMissing", "DatabaseUnavailable", "AccessDenied", "DatabaseNotFound", "StatementTimeout",
    "JobValidationError", "UnknownDependency", "ParamsNotSerializable", "JobNotFound", "JobWaitTimeout",
    "DaemonExited",
]

