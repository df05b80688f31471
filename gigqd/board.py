"""The board: shared memory where each worker posts its heartbeat and the jobs it holds.

The supervisor maps it before forking, so every worker inherits it. Every field has
one writer:
- the supervisor: the whole slot before it forks the worker (`reset`), and
  `stop_requested` afterwards (one byte); and the board's header: `fence_at`, the
  monotonic time from which no job may run (its lease may run out soon after; one
  aligned 8-byte store);
- the worker's heartbeat thread: `heartbeat` (one aligned 8-byte store, atomic);
- the worker's job loop: everything else, each change between two increments of
  `seq` (odd while it writes), so the supervisor takes a consistent copy without
  locks or system calls by retrying while `seq` is odd or moved (a seqlock).
The held list may go stale: the worker's hand-back thread (worker/handback.py) gives
back the jobs waiting behind a long job without writing here, so the board lists them
as held until the next claim. Releasing a dead worker's held jobs is fenced by (job,
attempt, worker), so a stale entry releases nothing another worker has claimed since.
Memory ordering: the seqlock relies on stores becoming visible in program order, as
on x86-64. On weakly ordered CPUs (arm64) a copy taken while the worker writes may
mix old and new fields; the supervisor only acts on such a live copy to look for
overdue jobs, and it settles a dead worker's claims from a copy taken after
waitpid(), when every store of the dead process is visible.
"""

from __future__ import annotations

import ctypes
import mmap
import time
from dataclasses import dataclass
from typing import Sequence

MAX_HELD = 64
EMPTY, BOOTING, IDLE, RUNNING, STOPPING = range(5)
HELD, STARTED, FINISHED = range(3)  # phase of each held job
STATE_NAMES = {EMPTY: "empty", BOOTING: "booting", IDLE: "idle", RUNNING: "running", STOPPING: "stopping"}


class _Entry(ctypes.Structure):
    _fields_ = [("job_id", ctypes.c_char * 36), ("attempt", ctypes.c_uint32), ("phase", ctypes.c_uint8)]


class _Slot(ctypes.Structure):
    _fields_ = [
        ("seq", ctypes.c_uint64),
        ("heartbeat", ctypes.c_double),
        ("pid", ctypes.c_int32),
        ("state", ctypes.c_uint8),
        ("started", ctypes.c_double),
        ("timeout", ctypes.c_double),
        ("jobs_done", ctypes.c_uint32),
        ("held", ctypes.c_uint32),
        ("current", ctypes.c_int32),
        ("stop_requested", ctypes.c_uint8),  # written by the supervisor only
        ("job_name", ctypes.c_char * 48),
        ("entries", _Entry * MAX_HELD),
    ]


@dataclass(frozen=True)
class HeldJob:
    job_id: str
    attempt: int
    phase: int


@dataclass(frozen=True)
class SlotView:
    """A consistent copy of one slot, taken by the supervisor."""

    pid: int
    state: int
    heartbeat: float
    started: float  # monotonic time the current job started; 0 when none
    timeout: float
    jobs_done: int
    job_name: str
    held: tuple[HeldJob, ...]
    current: int  # index in `held` of the running job, -1 when none
    consistent: bool = True

    @property
    def running_job(self) -> HeldJob | None:
        return self.held[self.current] if 0 <= self.current < len(self.held) else None


class _Header(ctypes.Structure):
    _fields_ = [("fence_at", ctypes.c_double)]  # 0: no lease to keep (a store on one machine)


class Board:
    def __init__(self, slots: int):
        header = ctypes.sizeof(_Header)
        self._memory = mmap.mmap(-1, header + ctypes.sizeof(_Slot) * slots)  # anonymous and shared across fork
        self._header = _Header.from_buffer(self._memory)
        self._slots = (_Slot * slots).from_buffer(self._memory, header)

    def writer(self, slot: int) -> "SlotWriter":
        return SlotWriter(self._slots[slot], self._header)

    def fence(self, at: float) -> None:
        """From monotonic time `at` on, workers start no job (the supervisor, after each lease renewal)."""
        self._header.fence_at = at

    @property
    def fence_at(self) -> float:
        return self._header.fence_at

    def reset(self, slot: int, pid: int) -> None:
        """Clear a slot for a newly forked worker (supervisor, before the worker runs)."""
        record = self._slots[slot]
        record.seq += 2
        ctypes.memset(ctypes.addressof(record) + 8, 0, ctypes.sizeof(_Slot) - 8)
        record.pid, record.state, record.heartbeat, record.current = pid, BOOTING, time.monotonic(), -1

    def request_stop(self, slot: int) -> None:
        """Ask a worker to stop after its job: it reads this between jobs without a system call."""
        self._slots[slot].stop_requested = 1

    def read(self, slot: int, tries: int = 50) -> SlotView:
        record = self._slots[slot]
        view = None
        for _ in range(tries):
            before = record.seq
            view = _copy(record, consistent=before % 2 == 0)
            if before % 2 == 0 and record.seq == before:
                return view
        # The writer is frozen mid-update (SIGSTOP, or killed): report what is there, flagged.
        if view is None:
            return _copy(record, consistent=False)
        return view.__class__(**{**view.__dict__, "consistent": False})


def _copy(record: _Slot, consistent: bool) -> SlotView:
    held = tuple(
        HeldJob(entry.job_id.decode(errors="replace"), entry.attempt, entry.phase)
        for entry in record.entries[: min(record.held, MAX_HELD)]
    )
    return SlotView(
        pid=record.pid, state=record.state, heartbeat=record.heartbeat, started=record.started,
        timeout=record.timeout, jobs_done=record.jobs_done, job_name=record.job_name.decode(errors="replace"),
        held=held, current=record.current, consistent=consistent,
    )


class SlotWriter:
    """A worker's handle on its own slot (the job loop's, but for `beat`)."""

    def __init__(self, record: _Slot, header: _Header):
        self._record, self._header = record, header

    def stop_requested(self) -> bool:
        return bool(self._record.stop_requested)

    def fence_at(self) -> float:
        """0, or the monotonic time from which this worker may start no job."""
        return self._header.fence_at

    def beat(self) -> None:
        """The heartbeat thread's one field: a single aligned store, no counter needed."""
        self._record.heartbeat = time.monotonic()

    def hold(self, jobs: Sequence[tuple[str, int]], state: int, finished: Sequence[tuple[str, int]] = ()) -> int:
        """Post a new batch in place of the old one. `finished` lists jobs that ran but
        whose outcomes are not recorded yet; they stay listed, ahead of the new jobs.
        Returns the board index of the first new job."""
        record = self._record
        record.seq += 1
        _write_entries(record, 0, finished, FINISHED)
        first = min(len(finished), MAX_HELD)
        _write_entries(record, first, jobs)
        record.held, record.current, record.state = min(first + len(jobs), MAX_HELD), -1, state
        record.started = 0.0
        record.seq += 1
        return first

    def start(self, index: int, name: str, timeout: float) -> None:
        record = self._record
        record.seq += 1
        record.entries[index].phase = STARTED
        record.current, record.started, record.timeout = index, time.monotonic(), timeout
        record.job_name, record.state = name.encode()[:47], RUNNING
        record.seq += 1

    def finish(self, index: int, state: int = IDLE) -> None:
        record = self._record
        record.seq += 1
        record.entries[index].phase = FINISHED
        record.current, record.started, record.state = -1, 0.0, state
        record.jobs_done += 1
        record.seq += 1

    def set_state(self, state: int) -> None:
        record = self._record
        record.seq += 1
        record.state = state
        record.seq += 1


def _write_entries(record: _Slot, first: int, jobs: Sequence[tuple[str, int]], phase: int = HELD) -> None:
    for index, (job_id, attempt) in enumerate(jobs[: max(0, MAX_HELD - first)], start=first):
        entry = record.entries[index]
        entry.job_id, entry.attempt, entry.phase = job_id.encode(), attempt, phase
