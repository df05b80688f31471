"""bench/cluster_scale.py still runs from a fresh clone: gigqd on 1, 2 and 3 test hosts, --quick.

Nothing here judges speed (the figures belong to `make bench`); this checks that the
harness builds the hosts, drains on each host count and fills every cell for gigqd.
pgqueuer is left out, as in test_postgres_compare.py: its venv comes from PyPI on the
first run, which would make the suite's time depend on the network.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

NUMBER = re.compile(r"[\d,]+(?:\.\d+)?")


def test_quick_run_on_three_test_hosts_reports_a_positive_rate_for_each_host_count():
    done = subprocess.run([sys.executable, "bench/cluster_scale.py", "--quick", "--only", "gigqd"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in done.stdout.splitlines()
            if re.match(r"\| \d \|", line)}
    assert sorted(rows) == ["1", "2", "3"], done.stdout
    for hosts, cells in rows.items():
        workers, *figures = [cell.strip() for cell in cells]
        assert int(workers) == 2 * int(hosts), done.stdout
        values = [float(n.replace(",", "")) for cell in figures for n in NUMBER.findall(cell)]
        assert len(values) == 5 and all(v > 0 for v in values), (hosts, figures)
    assert "FAILED" not in done.stdout and "logged" not in done.stdout and "SIGKILL" not in done.stdout, done.stdout
