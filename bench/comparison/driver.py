"""How both comparison harnesses (bench/compare.py on SQLite, bench/postgres_compare.py and
bench/cluster_scale.py on PostgreSQL) run their measurements: systems in turns, each after
the machine went quiet, a failure recorded and the run carried on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Callable

import psutil

from . import outputs
from .report import Results
from .systems import REPO

CLIENT_TIMEOUT = 300.0  # seconds for one client call (init, enqueue, submit_many...)


class PhaseFailed(Exception):
    """One measurement of one system could not complete; the run goes on without it."""


def run_client(system, store: str, folder: str, job_log: str, action: str, *options: str) -> dict:
    """Run one of the system's client actions against `store` (a file or a URL); its last
    line of output is the JSON of its figures."""
    argv = system.client_argv(action, store, *options)
    try:
        done = subprocess.run(argv, cwd=folder, env=system.env(store, job_log),
                              capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PhaseFailed(f"client {action} did not finish within {CLIENT_TIMEOUT:g} s") from None
    if done.returncode != 0:
        raise PhaseFailed(f"client {action} exited {done.returncode}: {outputs.tail(done.stderr)}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def source_state() -> str:
    """Which commit gigqd runs from, and whether its sources differ from it (read-only git calls)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "gigqd", "gigq_client"], cwd=REPO,
                                 capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    if not commit:
        return ""
    return f" (git {commit}" + (", with uncommitted changes in gigqd/ or gigq_client/)" if changed else ")")


def rotated(items: list, rep: int) -> list:
    """The systems' order in repetition `rep`: each takes its turn first."""
    shift = rep % len(items) if items else 0
    return items[shift:] + items[:shift]


def settle(longest: float = 3.0, quiet_percent: float = 15.0) -> None:
    """Before each measurement: write out what the last one left dirty, then wait (`longest`
    seconds at most) for the machine to go quiet, the same for every system, so no
    measurement pays for its predecessor's teardown (a single submit_many call measured
    81k jobs/s right after a drain, and 111-116k in ten calls in a row on a quiet machine)."""
    os.sync()
    deadline = time.monotonic() + longest
    while psutil.cpu_percent(interval=0.2) > quiet_percent and time.monotonic() < deadline:
        pass


def every_float(figures: dict) -> str:
    return ", ".join(f"{name} {value:,.2f}" for name, value in figures.items() if isinstance(value, float))


def measure_one(results: Results, records: list, rep: int, reps: int, phase: str, key: str,
                measure: Callable[[str], dict], quiet_wait: float = 3.0,
                summary: Callable[[dict], str] = every_float) -> None:
    settle(quiet_wait)
    started = time.monotonic()
    try:
        figures = measure(key)
    except PhaseFailed as failure:
        results.fail(key, rep, phase, str(failure))
        records.append({"rep": rep + 1, "system": key, "phase": phase, "error": str(failure)})
        progress(f"[rep {rep + 1}/{reps}] {phase} · {key}: FAILED ({failure}) in {time.monotonic() - started:.1f} s")
        return
    results.put(key, rep, figures)
    records.append({"rep": rep + 1, "system": key, "phase": phase, **figures})
    progress(f"[rep {rep + 1}/{reps}] {phase} · {key}: {summary(figures)} in {time.monotonic() - started:.1f} s")


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def stop_on_sigterm() -> None:
    """A SIGTERM to the harness unwinds like Ctrl-C, so every `finally` ends its processes."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupt)
