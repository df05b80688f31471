"""The report's sentence about the 10 ms drain's floor says what room it leaves, or that there is none."""

from __future__ import annotations

from bench.comparison.report import floor_sentence


def test_a_floor_above_97_percent_leaves_the_queue_microseconds_per_job():
    sentence = floor_sentence(196.0)  # 98 % of the ideal 200 jobs/s
    assert sentence.startswith("10 ms jobs with no queue at all: 98.0 % of ideal")
    assert "leaves a queue 105 µs per job for 97 %" in sentence  # 2 workers / 194 − 2 / 196 jobs/s


def test_a_floor_under_97_percent_says_no_queue_can_reach_it():
    sentence = floor_sentence(193.4)
    assert "96.7 % of ideal" in sentence and "no queue can reach 97 % in this run" in sentence
    assert "µs" not in sentence
