"""The cluster verdict's count of the jobs a fault caught in flight, and how soon they ran
again (pure data, no hosts)."""

from __future__ import annotations

from types import SimpleNamespace

from tests.cluster.verdict import _takeover_latencies

FAULT_AT = 100.0


def _caught(starts: dict, ends: dict, kind: str = "cut_host") -> int:
    fault = SimpleNamespace(kind=kind, host="h2", at=FAULT_AT, notes={})
    _takeover_latencies(SimpleNamespace(faults=[fault]), starts, ends)
    return fault.notes["jobs_caught"]


def _rerun_after(starts: dict, kind: str) -> dict:
    fault = SimpleNamespace(kind=kind, host="h2", at=FAULT_AT, notes={})
    return _takeover_latencies(SimpleNamespace(faults=[fault]), starts, {})


def test_a_killed_hosts_job_counts_as_running_again_when_the_rebooted_host_takes_it_up():
    # Every worker elsewhere busy: the host, booted again with a new daemon, runs it first.
    starts = {"a": [("h2", 7, 99.0), ("h2", 9, 106.5), ("h1", 8, 112.0)]}
    assert _rerun_after(starts, "kill_host") == {"kill_host_to_rerun_p50": 6.5, "kill_host_to_rerun_max": 6.5}


def test_a_cut_off_hosts_job_counts_only_once_it_runs_elsewhere():
    starts = {"a": [("h2", 7, 99.0), ("h2", 9, 103.0), ("h1", 8, 104.0)]}  # h2 back first: not a takeover
    assert _rerun_after(starts, "cut_host") == {"cut_host_to_rerun_p50": 4.0, "cut_host_to_rerun_max": 4.0}


def test_a_job_a_cut_off_host_finished_during_the_cut_was_caught_by_it():
    starts = {"a": [("h2", 7, 99.0), ("h1", 8, 104.5)]}
    ends = {"a": [("h2", 7, 101.0), ("h1", 8, 104.6)]}  # finished on h2 after the cut: its outcome refused
    assert _caught(starts, ends) == 1


def test_a_job_that_ended_before_the_fault_was_not_caught():
    assert _caught({"a": [("h2", 7, 98.0)]}, {"a": [("h2", 7, 99.5)]}, kind="kill_host") == 0


def test_a_job_already_taken_over_before_the_fault_was_not_caught_again():
    starts = {"a": [("h2", 7, 90.0), ("h1", 8, 95.0)]}
    assert _caught(starts, {"a": [("h1", 8, 95.1)]}) == 0


def test_a_job_on_another_host_was_not_caught():
    assert _caught({"a": [("h1", 7, 99.0)]}, {}) == 0
