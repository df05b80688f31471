"""The two logs a chaos run reads as it goes: the daemon's JSON log and the jobs' run log."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any


class DaemonLog:
    """The daemon's JSON log, read incrementally."""

    def __init__(self, path: Path):
        self.path, self.offset, self.events = path, 0, []

    def poll(self) -> list[dict]:
        if not self.path.exists():
            return self.events
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self.events.append(record)
        return self.events

    def find(self, event: str, **match: Any) -> list[dict]:
        self.poll()
        return [e for e in self.events if e.get("event") == event and all(e.get(k) == v for k, v in match.items())]

    def tail(self, lines: int = 50) -> str:
        if not self.path.exists():
            return "(no daemon log)"
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.path.stat().st_size - 200 * lines))
            return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


class JobLog:
    """The runs the jobs recorded, read incrementally: token -> [(pid, time)] of
    each start (`runs`) and of each body that finished (`ends`)."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.runs: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.ends: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.starts_by_pid: dict[int, list[float]] = defaultdict(list)
        self.last_by_pid: dict[int, tuple[str, float]] = {}
        self.lines = 0
        self.malformed: list[str] = []

    def poll(self) -> "JobLog":
        if not self.path.exists():
            return self
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            parts = line.split()
            try:
                token, pid, at = parts[0], int(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                self.malformed.append(line)
                continue
            if parts[3:] == ["end"]:
                self.ends[token].append((pid, at))
                continue
            self.runs[token].append((pid, at))
            self.starts_by_pid[pid].append(at)
            self.last_by_pid[pid] = (token, at)
            self.lines += 1
        return self

    def started_between(self, pid: int, after: float, before: float) -> bool:
        """Whether `pid` started a job after one moment and before another."""
        return any(after < at < before for at in self.starts_by_pid.get(pid, ()))

