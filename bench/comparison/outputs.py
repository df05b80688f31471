"""What a measured system left behind, read the same way by the SQLite and the PostgreSQL harness:
the tail of its output, the problems it logged, and the gaps between its jobs."""

from __future__ import annotations

import math
import os
from typing import Callable, Iterable

from . import processes
from .joblog import JobLog


def tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


def output_tail(folder: str) -> str:
    """The last lines the first process wrote (process-1.log in the measurement's folder)."""
    path = os.path.join(folder, "process-1.log")
    if not os.path.exists(path):
        return "(no output)"
    with open(path, errors="replace") as output:
        return tail(output.read(), 3) or "(no output)"


def unfinished(log: JobLog, expected: int, timeout: float, running: processes.Running, folder: str) -> str:
    why = f"the workers exited: {output_tail(folder)}" if not running.alive() else f"not done after {timeout:g} s"
    return f"{len(log.ends)}/{expected} jobs finished: {why}"


def log_notes(folder: str, running: processes.Running, problems_in: Callable[[Iterable[str]], list]) -> dict:
    """What each process logged that `problems_in` picks out, and whether SIGKILL was needed to stop it."""
    problems = []
    for number in range(1, len(running.roots) + 1):
        path = os.path.join(folder, f"process-{number}.log")
        if os.path.exists(path):
            with open(path, errors="replace") as output:
                problems.extend(problems_in(output))
    return {"log_problems": problems, "forced_stop": running.forced}


def gap_figures(log: JobLog) -> dict:
    """In each worker, the time from one job's end to its next job's start (what the queue
    adds to a job), and how far apart the workers' last jobs ended."""
    gaps = log.gaps_ms()
    if not gaps:
        return {}
    return {"gap_p50_ms": percentile(gaps, 50), "gap_p99_ms": percentile(gaps, 99), "gap_max_ms": gaps[-1],
            "end_skew_ms": log.end_skew_ms()}


def percentile(sorted_values: list, percent: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]
