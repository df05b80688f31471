"""The error hierarchy of gigq_client: every error we raise is a GigqError."""

from __future__ import annotations


class GigqError(Exception):
    """Root of every error raised by gigq_client and gigqd."""


class StoreError(GigqError):
    """The database cannot be opened or used as a job store."""


class SchemaVersionError(StoreError):
    """The database was written by a newer release than this one."""


class DatabaseLocked(StoreError):
    """Another connection held the write lock for longer than the busy timeout."""


class StoreFull(StoreError):
    """The disk (or the file size limit) is full; nothing was written."""


class ReadOnlyStore(StoreError):
    """The database file or its directory is not writable by this process."""


class DriverMissing(StoreError):
    """The database URL needs a driver that is not installed."""


class DatabaseUnavailable(StoreError):
    """The database server cannot be reached, or the connection to it was lost; try again later."""


class AccessDenied(StoreError):
    """The database server refused these credentials, or this role may not do that."""


class DatabaseNotFound(StoreError):
    """The database named in the URL does not exist on the server."""


class StatementTimeout(StoreError):
    """A statement ran past the server's statement_timeout and was rolled back."""


class JobValidationError(GigqError, ValueError):
    """A job's definition is invalid (bad function, priority, timeout, dependency...)."""


class UnknownDependency(JobValidationError):
    """A job depends on a job id that is not in the queue."""


class ParamsNotSerializable(GigqError, TypeError):
    """A job's params cannot be stored as JSON."""


class JobNotFound(GigqError, KeyError):
    """No job has the given id."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "job not found"


class JobWaitTimeout(GigqError, TimeoutError):
    """JobQueue.wait() gave up before the job reached a final state."""


class DaemonExited(GigqError):
    """The gigqd that Worker.start() ran ended with an error before it was asked to stop."""
