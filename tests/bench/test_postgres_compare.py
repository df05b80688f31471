"""bench/postgres_compare.py still runs from a fresh clone: gigqd, pgqueuer and procrastinate
on PostgreSQL, --quick.

Nothing here judges speed (figures belong to `make bench`, not to the suite); this
checks that the harness fills every cell it promises for each system and reports every
target, on the session's PostgreSQL server. The peers run too (their venv is installed
on the first run, about 30 s): an app that calls the shared job functions wrongly once
made the full run stop at procrastinate's first drain, unseen by a gigqd-only check.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

SYSTEMS = ("gigqd (PostgreSQL)", "pgqueuer", "procrastinate")


def test_quick_run_beside_the_peers_fills_every_cell_and_reports_every_target(postgres):
    env = {**os.environ, "GIGQ_TEST_POSTGRES_URL": postgres.url}
    done = subprocess.run([sys.executable, "bench/postgres_compare.py", "--only", "gigqd,pgqueuer,procrastinate",
                           "--quick"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    for system in SYSTEMS:
        cells = [cell.strip() for cell in rows[system].split("|")[2:-1]]
        assert len(cells) == 5 and all(cell and "–" not in cell and "failed" not in cell for cell in cells), cells
        assert f"{system}: gap in a worker" in done.stdout
    verdicts = [line.split()[0] for line in done.stdout.splitlines() if line.startswith(("  MET", "  NOT MET"))]
    assert len(verdicts) == 9, done.stdout  # 4 figures × 2 peers, and the latency
    assert "FAILED" not in done.stdout and "logged" not in done.stdout, done.stdout
