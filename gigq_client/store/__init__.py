"""The job store: every line of SQL in the project lives in this package."""

from .base import (
    COMPLETED,
    FAILED,
    TIMEOUT,
    Claim,
    ClaimedJob,
    DaemonInfo,
    NewJob,
    Outcome,
    RunningClaim,
    Store,
)
from .sqlite import SqliteStore

__all__ = [
    "COMPLETED", "FAILED", "TIMEOUT", "Claim", "ClaimedJob", "DaemonInfo", "NewJob",
    "Outcome", "RunningClaim", "Store", "SqliteStore",
]
