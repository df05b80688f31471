"""Writes a cluster run's figures into a markdown page, between two marker lines.

`make chaos-cluster` records its run in docs/reliability.md this way, so the page shows
the latest long run as it was measured, never figures typed by hand. A run that found a
violation is not recorded: the page keeps the last run that held.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

START, END = "<!-- cluster figures start -->", "<!-- cluster figures end -->"

_ROWS = (
    ("jobs submitted", "jobs"),
    ("runs (job starts)", "runs"),
    ("**lost or stuck**", "lost"),
    ("**completed twice**", "completed_twice"),
    ("**ran on two hosts at once**", "ran_on_two_hosts_at_once"),
    ("final but not completed", "not_completed"),
    ("jobs run more than once", "jobs_run_again"),
    ("host killed → its jobs running again, p50 / max (s)", ("kill_host_to_rerun_p50", "kill_host_to_rerun_max")),
    ("host cut off → its jobs running elsewhere, p50 / max (s)", ("cut_host_to_rerun_p50", "cut_host_to_rerun_max")),
)


def figures_block(report: dict[str, Any], plan: Any, commit: str, load: float) -> str:
    figures = report["figures"]
    lines = [START,
             f"Latest run, {time.strftime('%Y-%m-%d')}, `make chaos-cluster` at git {commit} (seed {plan.seed}, "
             f"{figures['seconds']:g} s, load average {load:.1f} at the start): 3 hosts × {plan.workers} workers, "
             f"lease {plan.lease:g} s, faults in this order: {', '.join(figures['faults'])}.",
             "", "| figure | value |", "| --- | ---: |"]
    for label, key in _ROWS:
        lines.append(f"| {label} | {_value(figures, key)} |")
    lines.append(END)
    return "\n".join(lines)


def _value(figures: dict[str, Any], key: Any) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(figures.get(k, "n/a")) for k in key)
    return f"{figures[key]:,}"


def record(page: Path, block: str) -> None:
    """Replace the block between the markers (the markers must already be on the page)."""
    text = page.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{page} has no '{START}' ... '{END}' block to record the run in")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    page.write_text(head + block + tail)


def commit_of(folder: Path) -> str:
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def load_now() -> float:
    return os.getloadavg()[0]
