"""Read the start/end lines bench/benchjobs.py appends, and wait on them with a deadline."""

from __future__ import annotations

import os
import time
from typing import Callable, Optional

POLL_SECONDS = 0.02


class JobLog:
    def __init__(self, path: str):
        self.path = path
        self.starts: dict = {}  # job index -> (start time, submit time, worker pid)
        self.ends: dict = {}  # job index -> end time
        self.repeated_starts = 0  # a job that started more than once
        self._offset = 0
        self._partial = b""

    def read(self) -> None:
        """Take in whatever complete lines were appended since the last read."""
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._take(line.decode().split())

    def _take(self, fields: list) -> None:
        if fields[0] == "S":
            index = int(fields[1])
            if index in self.starts:
                self.repeated_starts += 1
            self.starts[index] = (float(fields[2]), float(fields[3]), int(fields[4]))
        elif fields[0] == "E":
            self.ends[int(fields[1])] = float(fields[2])

    def wait_for(self, count: int, timeout: float, tick: Optional[Callable[[], bool]] = None) -> bool:
        """Wait until `count` distinct jobs have ended; False on timeout or when tick() says to give up."""
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if len(self.ends) >= count:
                return True
            if time.monotonic() > deadline:
                return False
            if tick is not None and not tick():
                self.read()
                return len(self.ends) >= count
            time.sleep(POLL_SECONDS)

    def first_start(self) -> float:
        return min(start for start, _, _ in self.starts.values())

    def last_end(self) -> float:
        return max(self.ends.values())

    def latencies_ms(self) -> list:
        """Start minus submit time of every job that carried its submit time."""
        return sorted((start - submitted) * 1000 for start, submitted, _ in self.starts.values() if submitted)

    def gaps_ms(self) -> list:
        """Inside each worker process, the time from one job's end to its next job's start."""
        gaps = []
        for runs in self._runs_by_worker().values():
            gaps.extend((later[0] - earlier[1]) * 1000 for earlier, later in zip(runs, runs[1:]))
        return sorted(gaps)

    def end_skew_ms(self) -> float:
        """How far apart the workers' last jobs ended: time one worker sat idle at the
        end of the drain while another still ran what it had claimed."""
        last_ends = [runs[-1][1] for runs in self._runs_by_worker().values()]
        return (max(last_ends) - min(last_ends)) * 1000 if last_ends else 0.0

    def _runs_by_worker(self) -> dict:
        """Worker pid -> its (start, end) pairs in time order."""
        by_worker: dict = {}
        for index, (start, _, pid) in self.starts.items():
            if index in self.ends:
                by_worker.setdefault(pid, []).append((start, self.ends[index]))
        for runs in by_worker.values():
            runs.sort()
        return by_worker
