"""Many hosts, one queue: three test hosts on one PostgreSQL, while one dies, one is cut off
and one's daemon restarts. No job is lost, none completed twice, none ran on two hosts at once.

The run itself is tests/cluster/cluster.py (`make chaos-cluster` is its long version).
"""

from __future__ import annotations

from tests.cluster.cluster import CUT_HOST, KILL_HOST, RESTART_DAEMON, ClusterRun, Plan


def test_three_hosts_lose_nothing_and_never_run_a_job_twice_at_once_through_death_partition_and_restart(tmp_path):
    run = ClusterRun(tmp_path, Plan(jobs=1500))
    report = run.run()
    figures, summary = report["figures"], report["table"]
    assert [f.kind for f in run.faults] and sorted(f.kind for f in run.faults) == sorted(
        [CUT_HOST, KILL_HOST, RESTART_DAEMON]), summary
    assert figures["jobs"] >= 1500 and figures["lost"] == 0, summary
    assert figures["completed_twice"] == 0 and figures["ran_on_two_hosts_at_once"] == 0, summary
    assert figures["not_completed"] == 0, summary
    # the dead host's and the cut-off host's jobs in flight (long jobs make sure there are some) ran elsewhere
    assert all(f.notes["jobs_caught"] >= 1 for f in run.faults if f.kind in (KILL_HOST, CUT_HOST)), summary
    assert "kill_host_to_rerun_max" in figures and "cut_host_to_rerun_max" in figures, summary
    assert report["violations"] == [] and report["problems"] == [], summary  # incl. lease lapsed, then regained
