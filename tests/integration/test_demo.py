"""`make demo`, the newcomer's first command, works and shows every promise it claims."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT


def test_make_demo_runs_the_workflow_and_stops_cleanly(tmp_path):
    result = subprocess.run(["make", "--no-print-directory", "demo", f"DEMO_DIR={tmp_path / 'demo'}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "1. started gigqd" in out and "4. stopped gigqd" in out
    assert "retrying (1/3 failed)" in out or "| flaky   | completed | 2/3" in out
    for line in ("| flaky   | completed | 2/3", "| hang    | timeout   | 1/1", "| archive | cancelled |",
                 "| report  | completed |"):
        assert line in out
    assert out.index("3. outcomes") < out.index("4. stopped")
