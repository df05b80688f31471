"""The shared board: one writer per field, and copies the supervisor can trust."""

from __future__ import annotations

import os

from gigqd import board
from tests.conftest import wait_for


def test_a_batch_is_posted_as_held_and_each_job_moves_through_started_and_finished():
    shared = board.Board(2)
    shared.reset(1, 4242)
    writer = shared.writer(1)
    first = writer.hold([("a", 1), ("b", 2)], board.IDLE)
    writer.start(first, "job-a", 5.0)
    view = shared.read(1)
    assert (view.pid, view.state, view.job_name, view.timeout) == (4242, board.RUNNING, "job-a", 5.0)
    assert view.running_job == board.HeldJob("a", 1, board.STARTED) and view.held[1].phase == board.HELD
    writer.finish(first, board.RUNNING)
    view = shared.read(1)
    assert view.running_job is None and view.jobs_done == 1
    assert [h.phase for h in view.held] == [board.FINISHED, board.HELD]
    assert shared.read(0).state == board.EMPTY  # another slot is untouched


def test_unrecorded_outcomes_stay_listed_ahead_of_a_new_batch():
    shared = board.Board(1)
    shared.reset(0, 1)
    offset = shared.writer(0).hold([("c", 1)], board.IDLE, finished=[("a", 1), ("b", 1)])
    view = shared.read(0)
    assert offset == 2 and [(h.job_id, h.phase) for h in view.held] == [
        ("a", board.FINISHED), ("b", board.FINISHED), ("c", board.HELD)]


def test_a_batch_longer_than_the_board_is_cut_at_its_size():
    shared = board.Board(1)
    shared.reset(0, 1)
    shared.writer(0).hold([(f"j{i}", 1) for i in range(board.MAX_HELD + 5)], board.IDLE)
    assert len(shared.read(0).held) == board.MAX_HELD


def test_a_writer_frozen_in_the_middle_of_an_update_is_reported_as_inconsistent():
    shared = board.Board(1)
    shared.reset(0, 1)
    shared._slots[0].seq += 1  # what a worker stopped between its two increments leaves behind
    assert shared.read(0, tries=3).consistent is False


def test_a_forked_worker_writes_where_the_supervisor_reads():
    shared = board.Board(1)
    shared.reset(0, 0)
    stop_seen = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the worker
        writer = shared.writer(0)
        writer.beat()
        writer.hold([("x", 3)], board.IDLE)
        while not writer.stop_requested():
            pass
        os.write(stop_seen[1], b"s")
        os._exit(0)
    try:
        wait_for(lambda: shared.read(0).held, what="the worker's batch on the board")
        shared.request_stop(0)  # the supervisor's one field
        assert os.read(stop_seen[0], 1) == b"s"
    finally:
        os.waitpid(pid, 0)
    assert shared.read(0).held == (board.HeldJob("x", 3, board.HELD),) and shared.read(0).heartbeat > 0
