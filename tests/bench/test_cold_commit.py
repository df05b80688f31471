"""bench/cold_commit.py runs from a fresh clone and prints a figure for every case."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_it_prints_a_median_for_each_pause_on_both_databases():
    done = subprocess.run([sys.executable, "bench/cold_commit.py", "--commits", "5", "--rounds", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    header, *rows = done.stdout.splitlines()
    assert all(pause in header for pause in ("back to back", "busy 1 ms", "busy 10 ms", "sleep 10 ms")), header
    assert [row.split("  ")[0] for row in rows] == ["in memory", "WAL file"], done.stdout
    for row in rows:  # four cases, two rounds each: "8 / 11"
        assert len(re.findall(r"\b\d+ / \d+\b", row)) == 4, row
