"""How much of the WAL is not yet copied into the database, read from the WAL index (`<db>-shm`).

SQLite checkpoints by itself when a commit leaves the WAL over wal_autocheckpoint
pages, inside that commit, while the writer holds the write lock and our turn: with
16 clients submitting beside a draining daemon that was a 20-40 ms stall for everyone
every few hundred milliseconds. Workers therefore copy the WAL back outside the turn
(a PASSIVE checkpoint lets writers go on) whenever this backlog has grown, so the
checkpoint left for a commit to make is small.

The numbers come from the WAL index's header, whose layout is part of SQLite's
documented file format (https://www.sqlite.org/walformat.html): mxFrame, the last
valid frame, at byte 16 of the first header copy, and nBackfill, the frames already
copied, at byte 96; both 32-bit in the machine's byte order. It is read without
SQLite's locks, with pread() (a torn or stale value only moves one checkpoint a
little); pread(), unlike a mapping, cannot fault if the file shrinks.
"""

from __future__ import annotations

import os
import struct
from typing import Optional

WAL_INDEX_VERSION = 3007000  # iVersion of every WAL index since SQLite 3.7.0
_HEADER = struct.Struct("=I12xI")  # iVersion at 0, mxFrame at 16
_BACKFILL = struct.Struct("=I")  # nBackfill at 96
_BACKFILL_AT = 96
_READ = _BACKFILL_AT + _BACKFILL.size
RECHECK_EVERY = 100


# One read-only descriptor per WAL index and process, never closed: closing any
# descriptor of a file drops every POSIX lock the process holds on it, and SQLite's
# connections hold theirs on the WAL index (tests/store/sqlite/test_locks.py). Only
# workers ask, so a client never opens one.
_OPENED: dict[tuple[int, str], int] = {}


class WalIndex:
    """The WAL index of one database, read by whichever process asks."""

    __slots__ = ("path", "_reads")

    def __init__(self, database_path: str):
        self.path = database_path + "-shm"
        self._reads = 0

    def due(self, frames: int) -> bool:
        """Whether at least `frames` frames wait to be copied back. The descriptor's file is
        checked to be the current WAL index when the answer is yes, and every
        RECHECK_EVERY answers besides (a stale one would answer no forever)."""
        self._reads += 1
        backlog = self.backlog()
        check = (backlog is not None and backlog >= frames) or self._reads % RECHECK_EVERY == 0
        if check and not self.still_current():
            backlog = self.backlog()
        return backlog is not None and backlog >= frames

    def backlog(self) -> Optional[int]:
        """Frames in the WAL not yet copied into the database; None if unknown (no WAL
        index yet, another layout)."""
        fd = self._descriptor()
        if fd is None:
            return None
        try:
            data = os.pread(fd, _READ, 0)
        except OSError:
            return None
        if len(data) < _READ:
            return None
        version, last_frame = _HEADER.unpack_from(data)
        if version != WAL_INDEX_VERSION:
            return None
        (copied,) = _BACKFILL.unpack_from(data, _BACKFILL_AT)
        return max(0, last_frame - copied)

    def still_current(self) -> bool:
        """Whether our descriptor is of the WAL index SQLite uses now: the last connection
        to close deletes it, and the next makes another. If not, the next read opens it."""
        key = (os.getpid(), self.path)
        fd = _OPENED.get(key)
        try:
            if fd is not None and os.fstat(fd).st_ino == os.stat(self.path).st_ino:
                return True
        except OSError:
            pass
        _OPENED.pop(key, None)  # left open, as above; a deleted WAL index holds no one's locks
        return False

    def _descriptor(self) -> Optional[int]:
        key = (os.getpid(), self.path)
        fd = _OPENED.get(key)
        if fd is None:
            try:
                fd = _OPENED[key] = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return None
        return fd
