"""The job store: every line of SQL in the project lives in this package (PostgresStore: store.postgres)."""

from .base import (
    COMPLETED,
    FAILED,
    TIMEOUT,
    Claim,
    ClaimedJob,
    DaemonInfo,
    DaemonSummary,
    JobListener,
    NewJob,
    Outcome,
    RunningClaim,
    Store,
)
from .open import describe_location, is_postgres_url, open_store
from .sqlite import SqliteStore

__all__ = [
    "COMPLETED", "FAILED", "TIMEOUT", "Claim", "ClaimedJob", "DaemonInfo", "DaemonSummary", "JobListener", "NewJob",
    "Outcome", "RunningClaim", "Store", "SqliteStore", "describe_location", "is_postgres_url", "open_store",
]
