"""The jobs `make demo` runs: one that succeeds, one that fails once, one that hangs, one that waits."""

from __future__ import annotations

import os
import signal
import time


def fetch(source: str) -> dict:
    time.sleep(0.3)
    return {"source": source, "rows": 1200}


def flaky(marker: str) -> str:
    """Fails on its first run, succeeds on the retry (the marker file remembers)."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise ConnectionError("upstream not ready (this first failure is on purpose)")
    return "ok on retry"


def hang() -> None:
    while True:
        signal.pause()  # never returns: the watchdog kills it at its timeout


def report(parent_results: dict) -> str:
    rows = sum(r["rows"] for r in parent_results.values() if isinstance(r, dict))
    return f"report built from {len(parent_results)} inputs, {rows} rows"


def archive() -> str:
    return "archived"
