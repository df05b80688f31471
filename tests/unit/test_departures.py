"""A dead worker's leftovers are killed without the loop waiting for them."""

from __future__ import annotations

import subprocess
import sys

import psutil

from gigqd.board import Board
from gigqd.exits import Exit
from gigqd.supervisor import recovery
from gigqd.supervisor.children import Child
from tests.conftest import wait_for


def test_leftovers_are_killed_at_once_and_the_departure_settles_once_they_are_gone():
    deaf = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.pause()"
    leftover = subprocess.Popen([sys.executable, "-c", deaf])
    child = Child(slot=0, pid=leftover.pid + 10_000_000, worker_id="w", wake_fd=-1, generation=0,
                  tree=[psutil.Process(leftover.pid)])  # the worker itself is long gone
    departure = recovery.begin_departure(child, Board(1).read(0), Exit(None, "killed by SIGKILL"))  # does not wait
    wait_for(lambda: leftover.poll() is not None, what="the leftover to die")  # reaped by its parent, as our loop does
    assert leftover.returncode == -9
    assert recovery.still_running(departure, adopted_now=[]) is False
