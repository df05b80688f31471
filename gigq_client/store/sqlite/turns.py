"""Taking turns for SQLite's write lock: a flock() queue on <db>.lock, waited on at most busy_timeout.

SQLite makes a writer that finds the lock taken sleep (1, 2, 5 ... 100 ms) and retry,
so the writer that just committed takes the lock again at once while the others
sleep: with 16 clients submitting beside 2 workers one submit waited 1.25 s. flock()
instead wakes the next waiter the moment the lock is free, roughly in turn.

A writer first tries the lock without waiting (one system call when nobody holds
it). A pooled worker (no patience) then spins for it briefly and, failing that,
sleeps in flock(): a commit holds the lock for some 30-40 us, while handing the lock
to a process asleep in flock() cost about 70 us on this project's VM (derived from a
profile, not timed directly; our reading is that the sleeper's CPU had gone idle).

A client must wait at most its patience, and a flock() that blocks cannot be given
a timeout: a helper thread, started on the first wait, blocks in flock() on the
caller's behalf while the caller waits at most its patience for the lock to be handed
over. A caller that gives up raises DatabaseLocked; the helper passes the lock on
when it gets it, so a stopped process holding the lock never leaves anyone waiting
forever.

Handing the lock from the helper to its caller is a second wake-up while the lock is
held: with more runnable processes than CPUs the woken caller can wait milliseconds
for a CPU, and every other writer waits with it. So a write that is one call (a
submit: `run()`) is made by the helper itself the moment it has the lock, and the
caller is woken after the lock is given back (measured in docs/benchmarks.md,
"Submitting under contention").
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")

BOUNDED, UNBOUNDED, OFF = "bounded", "unbounded", "off"
MODES = (BOUNDED, UNBOUNDED, OFF)
# How long a pooled worker tries for a taken lock before it sleeps in flock(). On one
# CPU the holder cannot run while we spin, so there we sleep at once. Measured in
# docs/benchmarks.md ("Spinning for the turn"): 2-worker no-op drain +40 %.
SPIN_BEFORE_SLEEP = 100e-6


def _cpus_we_may_use() -> int:
    """CPUs this process may run on (a pinned service may have fewer than the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def mode_of(queue_writes: object) -> str:
    """SqliteStore's queue_writes: a mode, or the booleans of earlier releases (True: wait however long)."""
    if queue_writes is True:
        return UNBOUNDED
    if queue_writes is False:
        return OFF
    if queue_writes not in MODES:
        raise ValueError(f"queue_writes must be one of {', '.join(MODES)}, got {queue_writes!r}")
    return str(queue_writes)


def create_lock_file(path: str, mode: int) -> None:
    """Make the lock file of the database at path now (a daemon shares it with its group)."""
    os.close(os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode))


def open_turns(path: str, mode: int, patience: Optional[float]) -> Optional["Turns"]:
    """A place in the write queue of the database at path, or None where the lock file
    can be neither created nor opened (a read-only directory, another user's file):
    such a store keeps SQLite's busy timeout alone. flock() needs no write access."""
    lock_path = path + ".lock"
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return Turns(os.open(lock_path, flags | os.O_CLOEXEC, mode), patience)
        except OSError:
            continue
    return None


class TurnMissed(Exception):
    """The turn did not come within the patience; the work was not done."""


class Turns:
    """One thread's place in the write queue (flock excludes per open file, so one per thread)."""

    __slots__ = ("fd", "patience", "_helper", "_pid", "_spin_for")

    def __init__(self, fd: int, patience: Optional[float]):
        self.fd = fd
        self._pid = os.getpid()
        self.patience = patience  # None: wait however long it takes
        self._helper: Optional[_Helper] = None
        self._spin_for = SPIN_BEFORE_SLEEP if patience is None and _cpus_we_may_use() > 1 else 0.0

    def take(self) -> bool:
        """Our turn at the write lock; False if it did not come within the patience."""
        if self._take_if_free():
            return True
        if self.patience is None:
            self._wait_however_long()
            return True
        return self._helper_thread().wait(self.patience)

    def run(self, work: Callable[[], T]) -> T:
        """work() done in our turn, in this thread or, if we have to wait with a bounded
        patience, in the helper the moment the lock is ours; TurnMissed if the turn did
        not come in time (work() was not called). work() must not take the turn itself."""
        if not self._take_if_free():
            if self.patience is not None:
                return self._helper_thread().run(work, self.patience)
            self._wait_however_long()
        try:
            return work()
        finally:
            self.give()

    def _take_if_free(self) -> bool:
        """The lock, if it is free now and no helper of ours is already queued for it."""
        helper = self._helper
        if helper is not None and helper.busy:
            return False  # the lock will come through the helper
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _wait_however_long(self) -> None:
        if not self._spin(self._spin_for):
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def _helper_thread(self) -> "_Helper":
        if self._helper is None:
            self._helper = _Helper(self.fd)
        return self._helper

    def _spin(self, seconds: float) -> bool:
        """Try for the lock until it is ours or `seconds` have passed, yielding the CPU
        between tries (the holder may be waiting for it); True if we got it."""
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            os.sched_yield()
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                continue
        return False

    def give(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        if os.getpid() != self._pid:
            os.close(fd)  # a forked child's copy: the helper thread stayed in the parent, and maybe its locks
        elif self._helper is not None and sys.is_finalizing():
            # The interpreter is exiting: daemon threads never run again, and the helper may
            # have stopped inside its mutex (just after handing back a write's outcome).
            # Waiting for it would hang the exit; the descriptor goes with the process.
            return
        elif self._helper is None or not self._helper.close():
            os.close(fd)

    # A store dropped without close() (GigQ's JobQueue had no close, so drop-in code never
    # calls it) must not keep its lock file open: one descriptor leaked per JobQueue made.
    __del__ = close


class _Helper:
    """A thread that blocks in flock() so that its caller can stop waiting.

    Only the thread that owns the Turns calls wait() and close(), one call at a time."""

    def __init__(self, fd: int):
        self.fd = fd
        self.busy = False  # inside flock() or a work: the lock will come through here, not by a new try
        self._wanted = False  # a caller is waiting for the lock
        self._work: Optional[Callable[[], object]] = None  # what to do with it, if not hand it over
        self._working = False  # doing the work: the caller must wait for its end, however long
        self._outcome: tuple = (False, None)  # (True, result) or (False, exception) of the last work
        self._closing = False
        self._mutex = threading.Lock()
        self._request = threading.Lock()  # released to start a flock()
        self._granted = threading.Lock()  # released when the lock is the caller's
        self._request.acquire()
        self._granted.acquire()
        threading.Thread(target=self._run, name="gigq-write-turn", daemon=True).start()

    def wait(self, patience: float) -> bool:
        """Wait at most patience for the lock to be handed over; True once it is ours."""
        self._ask(None)
        try:
            if self._granted.acquire(timeout=patience):
                return True
        except BaseException:  # interrupted (KeyboardInterrupt): nobody must be left holding the lock
            if self._withdraw():
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            raise
        return self._withdraw()

    def run(self, work: Callable[[], T], patience: float) -> T:
        """work() done by the helper in our turn; TurnMissed if the turn did not come in time."""
        self._ask(work)
        try:
            done = self._granted.acquire(timeout=patience)
        except BaseException:  # interrupted: a work begun is waited for (its outcome is lost with the call)
            self._withdraw()
            self._outcome = (False, None)
            raise
        if not done and not self._withdraw():
            raise TurnMissed()
        ok, value = self._outcome
        self._outcome = (False, None)
        if ok:
            return value  # type: ignore[return-value]
        raise value

    def _ask(self, work: Optional[Callable[[], object]]) -> None:
        with self._mutex:
            self._wanted, self._work = True, work
            if not self.busy:
                self.busy = True
                self._request.release()

    def _withdraw(self) -> bool:
        """Stop waiting; True if what we asked for came all the same (the lock handed over,
        or the work begun, whose end we then wait for: it has side effects)."""
        with self._mutex:
            if self._granted.acquire(blocking=False):
                return True
            working = self._working
            if not working:
                self._wanted, self._work = False, None
        if working:
            self._granted.acquire()
        return working

    def close(self) -> bool:
        """Stop the thread; True if it will close the descriptor itself (it is still waiting)."""
        with self._mutex:
            self._closing = True
            if self.busy:
                return True
            self._request.release()
            return False

    def _run(self) -> None:
        while True:
            self._request.acquire()
            if self._closing and not self.busy:
                return
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            with self._mutex:
                wanted, work = self._wanted and not self._closing, self._work
                if wanted:
                    self._wanted, self._work, self._working = False, None, work is not None
                    if work is None:
                        self.busy = False
                        self._granted.release()
                        continue
                else:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)  # nobody waits for it any more: pass it on
                    self.busy = False  # only now: until the unlock, a new try would find the lock ours
                    if self._closing:
                        os.close(self.fd)
                        return
                    continue
            self._do(work)

    def _do(self, work: Callable[[], object]) -> None:
        try:
            outcome: tuple = (True, work())
        except BaseException as error:  # handed to the caller, who raises it
            outcome = (False, error)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        with self._mutex:
            self._outcome, self._working, self.busy = outcome, False, False
            self._granted.release()
