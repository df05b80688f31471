"""gigq_client: submit and watch jobs in a SQLite job queue (a drop-in for the GigQ API)."""

from __future__ import annotations

from .errors import (
    DaemonExited,
    DatabaseLocked,
    GigqError,
    JobNotFound,
    JobValidationError,
    JobWaitTimeout,
    ParamsNotSerializable,
    ReadOnlyStore,
    SchemaVersionError,
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
    "JobValidationError", "UnknownDependency", "ParamsNotSerializable", "JobNotFound", "JobWaitTimeout",
    "DaemonExited",
]

