"""JobQueue: the GigQ API on a real SQLite file."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from gigq_client import Job, JobNotFound, JobQueue, JobStatus, JobWaitTimeout, ParamsNotSerializable, Workflow, task
from tests import jobfuncs
from tests.conftest import ROOT
from tests.store.helpers import claim_one, completed, failed

STATUS_KEYS = {
    "exists", "id", "name", "status", "created_at", "updated_at", "attempts", "max_attempts", "started_at",
    "completed_at", "params", "result", "error", "worker_id", "executions",
}
EXECUTION_KEYS = {"id", "worker_id", "status", "started_at", "completed_at", "error"}


def test_get_status_has_every_documented_key(queue):
    job_id = queue.submit(Job("add", jobfuncs.add, params={"a": 1, "b": 2}))
    claimed = claim_one(queue.store)
    queue.store.finish([completed(claimed, "3")])
    status = queue.get_status(job_id)
    assert STATUS_KEYS <= set(status)
    assert (status["status"], status["result"], status["params"]) == ("completed", 3, {"a": 1, "b": 2})
    assert EXECUTION_KEYS <= set(status["executions"][0])
    for key in ("created_at", "updated_at", "started_at", "completed_at"):
        assert datetime.fromisoformat(status[key]).utcoffset() == timedelta(0), key


def test_get_status_of_an_unknown_id(queue):
    assert queue.get_status("nope") == {"exists": False}


def test_params_that_are_not_json_name_the_key_and_store_nothing(queue):
    with pytest.raises(ParamsNotSerializable, match="'when'") as raised:
        queue.submit(Job("x", jobfuncs.echo, params={"ok": 1, "when": datetime.now()}))
    assert isinstance(raised.value, TypeError)
    with pytest.raises(TypeError, match=r"options.handle"):
        queue.submit(Job("x", jobfuncs.echo, params={"options": {"handle": object()}}))
    with pytest.raises(TypeError, match="'ratio'"):
        queue.submit(Job("x", jobfuncs.echo, params={"ratio": float("nan")}))
    assert queue.stats()["total"] == 0


def test_params_that_loop_nest_too_deep_or_have_odd_keys_get_a_clear_error(queue):
    looped = {"a": 1}
    looped["again"] = [looped]
    with pytest.raises(ParamsNotSerializable, match=r"'again\[0\]'.*contains itself"):
        queue.submit(Job("x", jobfuncs.echo, params=looped))
    deep = level = {}
    for _ in range(3000):
        level["a"] = level = {}
    with pytest.raises(ParamsNotSerializable, match="nested more than 500 levels deep"):
        queue.submit(Job("x", jobfuncs.echo, params={"deep": deep}))
    with pytest.raises(ParamsNotSerializable, match=r"'options\[\(1, 2\)\]'.*key is a tuple"):
        queue.submit(Job("x", jobfuncs.echo, params={"options": {(1, 2): "pair"}}))
    assert queue.stats()["total"] == 0


def test_params_are_stored_as_the_same_json_text_as_the_json_module_writes(queue, db_path):
    params = {"text": "héllo \"q\" \n", "n": [1, 2.5, -0.0, 10**20, None, True], "nested": {"1": {"b": []}}}
    job_id = queue.submit(Job("x", jobfuncs.echo, params=params))
    assert queue.get_status(job_id)["params"] == params
    with contextlib.closing(sqlite3.connect(db_path)) as db:  # the text GigQ 0.5.1 would read back
        assert db.execute("SELECT params FROM jobs WHERE id = ?", (job_id,)).fetchone()[0] == json.dumps(params)


@pytest.fixture
def either_queue(store_location):
    """A JobQueue on each store in turn (SQLite, then PostgreSQL)."""
    with JobQueue(store_location) as opened:
        yield opened


@pytest.mark.parametrize("bad_at", [3, 2500], ids=["in-the-first-rows", "after-rows-were-sent"])
def test_submit_many_is_one_transaction(either_queue, bad_at):
    queue = either_queue
    good = [Job(f"g{i}", jobfuncs.noop) for i in range(3)]
    filler = [Job(f"f{i}", jobfuncs.noop) for i in range(bad_at - 3)]
    bad = Job("bad", jobfuncs.echo, params={"x": {1, 2}})
    with pytest.raises(TypeError):
        queue.submit_many([*good, *filler, bad, *good])
    assert queue.stats()["total"] == 0
    assert queue.submit_many(good) == [job.id for job in good]
    assert queue.stats()["pending"] == 3


def test_submit_many_takes_any_iterable_and_nothing_at_all(either_queue):
    queue = either_queue
    assert queue.submit_many([]) == [] and queue.submit_many(iter(())) == []
    made = (Job(f"g{i}", jobfuncs.noop, queue="q" if i % 2 else "default") for i in range(5))
    ids = queue.submit_many(made)
    assert len(ids) == 5 and [queue.get_status(i)["name"] for i in ids] == [f"g{i}" for i in range(5)]
    assert queue.stats()["pending"] == 5 and queue.stats("q")["pending"] == 2


def test_submit_many_runs_the_callers_generator_before_taking_the_write_lock(queue):
    def jobs_that_submit_on_the_way():  # a generator that writes too (or is slow) must not meet the lock
        yield Job("a", jobfuncs.noop)
        queue.submit(Job("side", jobfuncs.noop))
        yield Job("b", jobfuncs.noop)

    assert len(queue.submit_many(jobs_that_submit_on_the_way())) == 2
    assert queue.stats()["pending"] == 3


def test_workflow_submit_all_is_all_or_nothing(queue):
    workflow = Workflow("pipeline")
    first = workflow.add_job(Job("download", jobfuncs.noop))
    workflow.add_job(Job("process", jobfuncs.noop), depends_on=[first])
    workflow.add_job(Job("broken", jobfuncs.noop, dependencies=["missing-id"]))
    with pytest.raises(ValueError, match="missing-id"):
        workflow.submit_all(queue)
    assert queue.stats()["total"] == 0


def test_workflow_runs_in_dependency_order(queue):
    workflow = Workflow("pipeline")
    download = workflow.add_job(Job("download", jobfuncs.noop))
    process = workflow.add_task(task(jobfuncs.add), params={"a": 1, "b": 2}, depends_on=[download])
    ids = workflow.submit_all(queue)
    assert ids == [download.id, process.id]
    assert queue.get_status(process.id)["dependencies"] == [download.id]
    assert [j.name for j in queue.store.claim("w", None, 10)] == ["download"]


def test_list_jobs_newest_first_with_filters(queue):
    ids = [queue.submit(Job(f"j{i}", jobfuncs.noop, queue="a" if i % 2 else "b")) for i in range(5)]
    assert [j["id"] for j in queue.list_jobs()] == ids[::-1]
    assert [j["id"] for j in queue.list_jobs(limit=2)] == ids[:-3:-1]
    assert [j["id"] for j in queue.list_jobs(queue="a")] == [ids[3], ids[1]]
    queue.cancel(ids[0])
    assert [j["id"] for j in queue.list_jobs(status=JobStatus.CANCELLED)] == [ids[0]]
    assert [j["id"] for j in queue.list_jobs(status="cancelled")] == [ids[0]]


def test_stats_counts_each_status_and_total(queue):
    for i in range(3):
        queue.submit(Job(f"j{i}", jobfuncs.noop))
    queue.cancel(queue.list_jobs()[0]["id"])
    assert queue.stats() == {
        "pending": 2, "running": 0, "completed": 0, "failed": 0, "cancelled": 1, "timeout": 0, "total": 3,
    }


def test_get_result(queue):
    job_id = queue.submit(Job("add", jobfuncs.add))
    assert queue.get_result(job_id) is None
    queue.store.finish([completed(claim_one(queue.store), '{"sum": 3}')])
    assert queue.get_result(job_id) == {"sum": 3}
    with pytest.raises(KeyError):
        queue.get_result("missing")


def test_requeue_resets_a_failed_job(queue):
    job_id = queue.submit(Job("x", jobfuncs.fail, max_attempts=1))
    queue.store.finish([failed(claim_one(queue.store), "boom")])
    assert queue.requeue_job(job_id) is True
    status = queue.get_status(job_id)
    assert (status["status"], status["attempts"], status["error"], status["started_at"], status["completed_at"]) == (
        "pending", 0, None, None, None)
    assert queue.requeue_job(job_id) is False  # pending jobs are not requeued


def test_clear_completed_removes_finished_jobs_and_their_executions(queue):
    done = queue.submit(Job("done", jobfuncs.noop))
    queue.store.finish([completed(claim_one(queue.store))])
    cancelled = queue.submit(Job("cancelled", jobfuncs.noop))
    queue.cancel(cancelled)
    pending = queue.submit(Job("pending", jobfuncs.noop))
    week_ago = (datetime.now() - timedelta(days=7)).isoformat()  # GigQ's CLI passes local time
    assert queue.clear_completed(before_timestamp=week_ago) == 0
    assert queue.clear_completed() == 2
    assert queue.get_status(done) == {"exists": False} and queue.get_status(cancelled) == {"exists": False}
    assert queue.get_status(pending)["status"] == "pending"
    assert queue.store._read("SELECT count(*) FROM job_executions")[0][0] == 0


FINISHER = """
import sys, time
sys.path.insert(0, {root!r})
from gigq_client.store import SqliteStore
from tests.store.helpers import completed
store = SqliteStore({path!r})
time.sleep(0.3)
store.finish([completed(store.claim("w", None, 1)[0], "42")])
"""


def test_wait_returns_the_final_status_without_spinning(queue, db_path):
    job_id = queue.submit(Job("answer", jobfuncs.noop))
    finisher = subprocess.Popen([sys.executable, "-c", FINISHER.format(root=ROOT, path=db_path)])
    cpu_before = time.process_time()
    status = queue.wait(job_id, timeout=30)
    cpu_used = time.process_time() - cpu_before
    assert finisher.wait(timeout=30) == 0
    assert (status["status"], status["result"]) == ("completed", 42)
    assert cpu_used < 0.15, f"wait() burned {cpu_used:.3f} s of CPU"


def test_wait_gives_up_at_its_timeout(queue):
    job_id = queue.submit(Job("never", jobfuncs.noop))
    with pytest.raises(JobWaitTimeout, match=job_id):
        queue.wait(job_id, timeout=0.2)
    with pytest.raises(JobNotFound):
        queue.wait("missing", timeout=0.2)


def test_a_queue_object_works_from_several_threads(queue):
    import threading

    errors = []

    def submit_some():
        try:
            for i in range(20):
                queue.submit(Job(f"t{i}", jobfuncs.noop))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=submit_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and queue.stats()["total"] == 80


SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from gigq_client import Job, JobQueue

def resize(width):
    return width

queue = JobQueue({path!r})
print(queue.get_status(queue.submit(Job("resize", resize, params={{"width": 3}})))["function"])
"""


def test_function_defined_in_a_script_is_stored_under_the_script_name(tmp_path, db_path):
    script = tmp_path / "resizer.py"
    script.write_text(SCRIPT.format(root=ROOT, path=db_path))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "resizer:resize"


def test_queue_can_be_reopened_without_initialising(db_path):
    JobQueue(db_path).close()
    with JobQueue(db_path, initialize=False) as again:
        assert again.stats()["total"] == 0


def _open_descriptors() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def test_queues_dropped_without_close_leave_no_descriptor_open(store_location):
    """GigQ's JobQueue had no close(): drop-in code makes one per request and drops it."""
    import gc

    JobQueue(store_location).submit(Job("warm-up", jobfuncs.noop))  # imports, the schema, the lock file
    gc.collect()
    before = _open_descriptors()
    for i in range(30):
        queue = JobQueue(store_location)
        queue.submit(Job(f"j{i}", jobfuncs.noop))
        assert queue.stats()["total"] == i + 2
    del queue
    gc.collect()
    assert _open_descriptors() <= before
