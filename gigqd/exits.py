"""Worker exit codes, shared by the worker that exits and the supervisor that reaps it.

A code tells the supervisor why a worker ended; any other code, or a signal,
means it died, and the claims it held are settled as a death.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import IntEnum
from typing import Optional

from .processes import signal_name


class WorkerExit(IntEnum):
    STOPPED = 0  # asked to stop, between jobs (scale down, reload, daemon stopping)
    BOOT_FAILED = 3  # could not open the store or import `imports`: respawned with a backoff
    ORPHANED = 4  # its supervisor was gone
    RECYCLED = 5  # reached max_jobs_per_worker or max_memory_per_worker, between jobs
    FENCED = 6  # killed its own job: its daemon's lease was not renewed and nobody stopped the job
    CRASHED = 70  # an error in the worker itself, not in a job (EX_SOFTWARE)


_MEANINGS = {
    WorkerExit.STOPPED: "stopped on request",
    WorkerExit.RECYCLED: "recycled",
    WorkerExit.BOOT_FAILED: "failed to start (exit 3)",
    WorkerExit.ORPHANED: "exited because its supervisor was gone",
    WorkerExit.FENCED: "killed its own job: its daemon's lease was about to run out",
}


@dataclass(frozen=True)
class Exit:
    """How one worker ended: `code` is None for a signal or a code that means nothing to us."""

    code: Optional[WorkerExit]
    text: str

    @property
    def planned(self) -> bool:
        """It left between jobs as asked or as configured, holding nothing it started."""
        return self.code in (WorkerExit.STOPPED, WorkerExit.RECYCLED)


def describe(status: int) -> Exit:
    """The wait status of a reaped worker, in words."""
    if os.WIFSIGNALED(status):
        return Exit(None, f"killed by {signal_name(os.WTERMSIG(status))}")
    code = os.waitstatus_to_exitcode(status)
    try:
        known = WorkerExit(code)
    except ValueError:
        return Exit(None, f"exited with status {code}")
    return Exit(known, _MEANINGS.get(known, f"exited with status {code}"))
