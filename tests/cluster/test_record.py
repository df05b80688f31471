"""make chaos-cluster writes its figures into the page, and only between the markers."""

from __future__ import annotations

import pytest

from tests.cluster import record
from tests.cluster.cluster import Plan

FIGURES = {"jobs": 10_014, "runs": 10_031, "lost": 0, "completed_twice": 0, "ran_on_two_hosts_at_once": 0,
           "not_completed": 0, "jobs_run_again": 12, "seconds": 171.4, "faults": ["kill_host gq-h2", "cut_host gq-h1"],
           "kill_host_to_rerun_p50": 3.69, "kill_host_to_rerun_max": 4.66}


def test_the_block_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    page = tmp_path / "reliability.md"
    page.write_text(f"# Before\n\n{record.START}\nold figures\n{record.END}\n\n## After\n")
    block = record.figures_block({"figures": FIGURES}, Plan(seed=7), "abc1234", 1.5)
    record.record(page, block)
    text = page.read_text()
    assert text.startswith("# Before\n\n") and text.endswith("\n\n## After\n") and "old figures" not in text
    assert "| jobs submitted | 10,014 |" in text and "git abc1234 (seed 7" in text
    assert "| host killed → its jobs running again, p50 / max (s) | 3.69 / 4.66 |" in text
    assert "| host cut off → its jobs running elsewhere, p50 / max (s) | n/a / n/a |" in text  # no cut caught a job


def test_a_page_without_the_markers_is_refused_by_name(tmp_path):
    page = tmp_path / "other.md"
    page.write_text("# No block here\n")
    with pytest.raises(SystemExit, match="other.md has no"):
        record.record(page, "x")
    assert page.read_text() == "# No block here\n"
