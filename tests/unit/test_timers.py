"""The supervisor's named timers: each duty runs when due, at its own pace."""

from __future__ import annotations

from gigqd.supervisor.timers import Timers


def test_each_duty_runs_when_due_and_again_after_its_interval():
    runs = []
    timers = Timers()
    timers.add("a", lambda: runs.append("a"), lambda: 10.0)
    timers.add("b", lambda: runs.append("b"), lambda: 3.0, first=5.0)
    for now in (0.0, 4.0, 5.0, 7.0, 8.0, 10.0):
        timers.run_due(now)
    assert runs == ["a", "b", "b", "a"]  # a at 0 and 10; b at 5 and 8
    assert timers.seconds_to_next(10.0) == 1.0  # b next at 11


def test_a_duty_may_ask_for_its_own_next_delay_and_be_brought_forward():
    calls = []
    timers = Timers()
    timers.add("check", lambda: calls.append(1) or 0.1, lambda: 30.0)
    timers.run_due(0.0)
    assert timers.seconds_to_next(0.0) == 0.1
    timers.soon("check", 0.05)
    timers.run_due(0.05)
    assert len(calls) == 2
