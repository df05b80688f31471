"""bench/postgres_compare.py still runs from a fresh clone: gigqd alone on PostgreSQL, --quick.

Nothing here judges speed (figures belong to `make bench`, not to the suite); this
checks that the harness fills every cell it promises for gigqd and reports its target,
on the session's PostgreSQL server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_quick_run_of_gigqd_on_postgresql_fills_every_cell_and_reports_the_latency_target(postgres):
    env = {**os.environ, "GIGQ_TEST_POSTGRES_URL": postgres.url}
    done = subprocess.run([sys.executable, "bench/postgres_compare.py", "--only", "gigqd", "--quick"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    cells = [cell.strip() for cell in rows["gigqd (PostgreSQL)"].split("|")[2:-1]]
    assert len(cells) == 5 and all(cell and "–" not in cell and "failed" not in cell for cell in cells), cells
    verdicts = [line.split()[0] for line in done.stdout.splitlines() if line.startswith(("  MET", "  NOT MET"))]
    assert len(verdicts) == 1, done.stdout  # without peers only the latency target can be judged
    assert "FAILED" not in done.stdout and "logged" not in done.stdout, done.stdout
    assert "gigqd (PostgreSQL): gap in a worker" in done.stdout
