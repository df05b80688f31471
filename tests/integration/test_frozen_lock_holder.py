"""A worker frozen while it holds SQLite's write lock (SQLite only: on PostgreSQL a
frozen worker holds row locks, which no other statement waits for)."""

from __future__ import annotations

from gigq_client import Job
from tests import jobfuncs
from tests.integration.daemon import wait_status


def test_a_worker_frozen_holding_the_write_lock_is_killed_at_its_limit(make_daemon, tmp_path):
    # The supervisor renews its lease every second here; each renewal waits for the
    # write lock the frozen worker holds. Were it to wait its busy timeout (60 s), the
    # watchdog could not run meanwhile and the queue would stay locked that long.
    daemon = make_daemon(workers=1, heartbeat_timeout=1.0, heartbeat_interval=0.2, kill_grace=1.0, lease=4.0,
                         busy_timeout=60.0).start()
    queue = daemon.queue()
    frozen = queue.submit(Job("freezer", jobfuncs.freeze_holding_the_write_lock, params={"db": daemon.db},
                              max_attempts=1))
    daemon.wait_event("worker_hung", timeout=15)
    assert "WorkerHung" in wait_status(queue, frozen, "failed", timeout=20)["error"]
    after = queue.submit(Job("after", jobfuncs.noop))
    wait_status(queue, after, "completed", timeout=20)
