"""bench/compare.py still runs from a fresh clone: gigqd and the raw loops, --quick.

Nothing here judges speed (figures belong to `make bench`, not to the suite); this
checks that the harness measures every cell it promises and reports each target.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_quick_run_of_gigqd_and_the_raw_loops_fills_every_cell_and_reports_the_targets():
    done = subprocess.run([sys.executable, "bench/compare.py", "--only", "gigqd,raw", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert "–" not in rows["gigqd"].split("|", 2)[2], rows["gigqd"]  # every gigqd cell measured (one rep: no ranges)
    raw = rows["raw (SQLite loop · no queue)"]
    assert "(no queue)" in raw and "(full cycle)" in raw
    assert "failed" not in rows["gigqd, outcomes batched (opt-in)"]  # the opt-in mode's no-op drain, its own row
    contention = [line for title, line in rows.items() if title.startswith(("while 2 workers", "no daemon running"))]
    assert len(contention) == 2 and not any("–" in line or "failed" in line for line in contention), contention
    verdicts = [line.split()[0] for line in done.stdout.splitlines() if line.startswith(("  MET", "  NOT MET"))]
    assert len(verdicts) == 14, done.stdout  # the 14 targets that need no peer, each MET or NOT MET
    assert "FAILED" not in done.stdout and "10 ms jobs with no queue at all" in done.stdout
    # the enqueue again while a daemon's doorbell is rung: its workers all busy, and one idle
    beside = re.findall(r"beside a daemon, +(every worker busy|a worker idle): [\d,]+ jobs/s, ÷ raw SQLite insert \d",
                        done.stdout)
    assert beside == ["every worker busy", "a worker idle"], done.stdout
    gaps = next(line for line in done.stdout.splitlines() if line.startswith("  gigqd: gap in a worker"))
    # each worker's last job read, in both drains (millis() prints 2.59, 10.1 or 1,234)
    assert len(re.findall(r"end skew \d[\d,]*(?:\.\d+)?\b", gaps)) == 2, gaps

