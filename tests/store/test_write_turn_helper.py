"""A write that waited for its turn is made by the turn's helper thread the moment the
turn comes (a submit is one call), and the helper never keeps a turn or a process alive."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading

import pytest

from gigq_client import JobQueue
from gigq_client.store.sqlite import turns
from tests.conftest import ROOT, wait_for
from tests.store.lock_holders import hold


def _run_in_thread(place: turns.Turns, work) -> dict:
    ended: dict = {}

    def run() -> None:
        try:
            ended["value"] = place.run(work)
            probe = os.open(place_path(place), os.O_RDWR)
            try:  # the turn is given back before the caller hears of its work
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                ended["free_on_return"] = True
            except BlockingIOError:
                ended["free_on_return"] = False
            finally:
                os.close(probe)
        except BaseException as error:
            ended["error"] = error

    threading.Thread(target=run, daemon=True).start()
    return ended


def place_path(place: turns.Turns) -> str:
    return os.readlink(f"/proc/self/fd/{place.fd}")


def test_a_one_call_write_that_waited_is_made_by_the_helper_the_moment_the_turn_comes(db_path):
    """Handing the lock from the helper thread to its caller was a second wake-up while
    the lock was held; a one-call write (a submit) is done by the helper instead."""
    JobQueue(db_path).close()
    holder = hold(db_path, "turn")
    place = turns.open_turns(db_path, 0o600, patience=30)
    done_by = []
    ended = _run_in_thread(place, lambda: done_by.append(threading.current_thread().name) or 7)
    try:
        wait_for(lambda: place._helper is not None and place._helper.busy, what="the write to wait for its turn")
        assert not ended and not done_by
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    # Both keys: the thread records the value, then probes the lock (waiting for the
    # first alone raced the probe, and failed once in CI).
    wait_for(lambda: "free_on_return" in ended or "error" in ended, timeout=30, what="the write to be made")
    assert ended == {"value": 7, "free_on_return": True}
    assert done_by == ["gigq-write-turn"]


def test_a_one_call_write_whose_turn_comes_too_late_is_never_made(db_path):
    JobQueue(db_path).close()
    holder = hold(db_path, "turn")
    place = turns.open_turns(db_path, 0o600, patience=0.3)
    calls = []
    try:
        with pytest.raises(turns.TurnMissed):
            place.run(lambda: calls.append("made"))
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    wait_for(lambda: not place._helper.busy, what="the helper to pass the turn on")
    assert calls == []
    assert place.run(lambda: threading.current_thread().name) == threading.current_thread().name  # free: done here


def test_an_error_in_a_write_made_by_the_helper_reaches_the_caller_and_the_turn_is_given_back(db_path):
    JobQueue(db_path).close()
    holder = hold(db_path, "turn")
    place = turns.open_turns(db_path, 0o600, patience=30)

    def fails() -> None:
        raise sqlite3.IntegrityError("UNIQUE constraint failed: jobs.id")

    ended = _run_in_thread(place, fails)
    try:
        wait_for(lambda: place._helper is not None and place._helper.busy, what="the write to wait for its turn")
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    wait_for(lambda: ended, timeout=30, what="the write to end")
    assert isinstance(ended.get("error"), sqlite3.IntegrityError), ended
    probe = os.open(db_path + ".lock", os.O_RDWR)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the helper kept the turn
    finally:
        os.close(probe)


EXIT_WHILE_THE_HELPER_IS_FROZEN = """
import threading
from gigq_client import JobQueue
from gigq_client.store.sqlite import turns
JobQueue(DB).close()
class Cycle:  # a store left in a reference cycle is closed by the collector, here at exit
    pass
cycle = Cycle()
cycle.itself, cycle.place = cycle, turns.open_turns(DB, 0o600, patience=5)
helper = cycle.place._helper = turns._Helper(cycle.place.fd)
held = threading.Event()
def frozen_inside_the_helpers_mutex(helper):
    with helper._mutex:  # where a daemon thread stops for good once the interpreter exits
        held.set()
        threading.Event().wait()
threading.Thread(target=frozen_inside_the_helpers_mutex, args=(helper,), daemon=True).start()
held.wait()
del cycle, helper
print("exiting", flush=True)
"""


def test_a_client_exits_even_if_the_interpreter_froze_its_helper_inside_the_helpers_mutex(db_path):
    """A helper thread that has just handed a write's outcome back can still be inside
    its mutex when the main thread returns and the interpreter exits; daemon threads
    never run again after that, so closing the Turns then (the store's finalizer) must
    not wait for the mutex. Seen as a benchmark client that never exited."""
    script = f"DB = {db_path!r}\n" + EXIT_WHILE_THE_HELPER_IS_FROZEN
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exiting"
