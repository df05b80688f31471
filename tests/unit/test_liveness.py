"""A process is known by its pid and start time: real child processes, alive, zombie and reaped."""

from __future__ import annotations

import subprocess
import sys

import psutil

from gigq_client import liveness
from tests.conftest import wait_for


def _child() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])


def test_start_time_is_the_one_psutil_reports_to_the_millisecond():
    child = _child()
    try:
        assert liveness.start_time(child.pid) == round(psutil.Process(child.pid).create_time(), 3)
        assert liveness.start_time() == round(psutil.Process().create_time(), 3)
    finally:
        child.kill()
        child.wait()


def test_a_running_process_is_alive_only_with_its_own_start_time():
    child = _child()
    try:
        started = liveness.start_time(child.pid)
        assert liveness.alive(child.pid, started) and liveness.alive(child.pid, None)
        assert not liveness.alive(child.pid, started - 5.0)  # the same pid, reused by another process
    finally:
        child.kill()
        child.wait()


def test_a_zombie_and_a_reaped_process_are_not_alive():
    child = _child()
    started = liveness.start_time(child.pid)
    child.kill()
    wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, what="the child to be a zombie")
    assert not liveness.alive(child.pid, started)
    child.wait()
    assert not liveness.alive(child.pid, started) and not liveness.alive(child.pid, None)
