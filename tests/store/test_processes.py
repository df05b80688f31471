"""Store contract across processes: JobQueue.wait sees another process's commit through
change_counter(), and a forked child opens its own connection without disturbing its parent's."""

from __future__ import annotations

import os
import subprocess
import sys

from gigq_client import Job, JobQueue
from gigq_client.store import open_store
from tests import jobfuncs
from tests.conftest import ROOT
from tests.forked import in_child
from tests.store.helpers import completed, new_job

FINISHER = """
import sys
sys.path.insert(0, {root!r})
from gigq_client.store import open_store
from tests.store.helpers import completed
store = open_store({location!r})
sys.stdin.readline()  # the test is waiting by now
store.finish([completed(store.claim("w", None, 1)[0], "42")])
"""


def test_wait_returns_once_another_process_finished_the_job(store_location):
    with JobQueue(store_location) as queue:
        job_id = queue.submit(Job("answer", jobfuncs.noop))
        counter = queue.store.change_counter()
        assert queue.store.change_counter() == counter  # nothing committed meanwhile: no reason to read again
        finisher = subprocess.Popen([sys.executable, "-c", FINISHER.format(root=ROOT, location=store_location)],
                                    stdin=subprocess.PIPE, text=True)
        finisher.stdin.write("go\n")
        finisher.stdin.close()
        status = queue.wait(job_id, timeout=60)
        assert finisher.wait(timeout=60) == 0
        assert (status["status"], status["result"]) == ("completed", 42)
        assert queue.store.change_counter() != counter


def test_a_forked_child_uses_a_connection_of_its_own_and_leaves_its_parents_alone(store):
    store.enqueue([new_job("first"), new_job("second")])

    def child_claims() -> str:
        claimed = store.claim("child", None, 1)[0]
        store.finish([completed(claimed)])
        return str(os.getpid())

    child_pid = in_child(child_claims)
    assert child_pid.isdigit(), child_pid  # what it raised, otherwise
    assert store.stats()["completed"] == 1  # the parent's connection still works after the child's exit
    assert [j.name for j in store.claim("parent", None, 5)] == ["second"]


def test_a_store_opened_in_a_child_process_sees_the_parents_jobs(store, store_location):
    store.enqueue([new_job("x")])
    assert in_child(lambda: str(open_store(store_location).stats()["pending"])) == "1"
    assert store.stats()["pending"] == 1
