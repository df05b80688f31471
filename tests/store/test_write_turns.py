"""Writers take turns on <db>.lock, and a client never waits past busy_timeout for its turn.

Each holder here is a real second process, stopped with SIGSTOP while it holds the
lock, as a debugger or a frozen cgroup would leave it.
"""

from __future__ import annotations

import fcntl
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading

import pytest

from gigq_client import DatabaseLocked, Job, JobQueue
from gigq_client.store import SqliteStore
from gigq_client.store.sqlite import turns
from tests.conftest import ROOT, wait_for
from tests.forked import drop_to_nobody, in_child
from tests.jobfuncs import add
from tests.store.lock_holders import HOLDERS, hold


def submit_in_thread(queue: JobQueue) -> dict:
    """Submit from a thread and report how it ended; the test waits with a deadline, so a
    submit that blocked forever fails the test instead of hanging it."""
    ended: dict = {}

    def run() -> None:
        try:
            ended["id"] = queue.submit(Job("j", add, params={"a": 1, "b": 2}))
        except Exception as error:
            ended["error"] = error

    threading.Thread(target=run, daemon=True).start()
    return ended


@pytest.mark.parametrize("kind", sorted(HOLDERS))
def test_a_stopped_holder_of_the_lock_makes_a_submit_fail_with_database_locked_not_hang(db_path, kind):
    JobQueue(db_path).close()
    holder = hold(db_path, kind)
    try:
        queue = JobQueue(db_path, busy_timeout=0.3)
        ended = submit_in_thread(queue)
        wait_for(lambda: ended, timeout=30, what="the submit to give up")
        assert isinstance(ended.get("error"), DatabaseLocked), ended
        assert "busy timeout (0.3 s)" in str(ended["error"])
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    queue.submit(Job("j", add, params={"a": 1, "b": 2}))  # the turn was passed on: the next one goes through
    assert queue.stats()["pending"] == 1


def test_a_client_waiting_its_turn_gets_it_when_the_holder_goes_on(db_path):
    JobQueue(db_path).close()
    holder = hold(db_path, "client")
    queue = JobQueue(db_path, busy_timeout=30)
    ended = submit_in_thread(queue)
    try:
        wait_for(lambda: _waits_in_flock(), what="the submit to wait for its turn")
        assert not ended
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    wait_for(lambda: ended, timeout=30, what="the submit to go through")
    assert "id" in ended, ended
    assert queue.get_status(ended["id"])["status"] == "pending"


def _waits_in_flock() -> bool:
    return any(t.name == "gigq-write-turn" for t in threading.enumerate())


def test_threads_and_processes_submitting_at_once_all_get_their_turn(db_path):
    JobQueue(db_path).close()
    script = (f"import sys; sys.path.insert(0, {ROOT!r}); from gigq_client import Job, JobQueue; "
              f"from tests.jobfuncs import add; q = JobQueue({db_path!r}); "
              "[q.submit(Job('j', add, params={'a': i, 'b': 0})) for i in range(300)]")
    others = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    queue = JobQueue(db_path)
    threads = [threading.Thread(target=lambda: [queue.submit(Job("t", add, params={"a": i, "b": 0}))
                                               for i in range(300)]) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(other.wait(timeout=120) == 0 for other in others)
    assert queue.stats()["pending"] == 1800


def test_a_lock_file_this_user_cannot_open_leaves_only_sqlites_busy_timeout():
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o777)
    path = os.path.join(folder, "jobs.db")
    SqliteStore(path, file_mode=0o666).close()
    os.chmod(path, 0o666)
    os.close(os.open(path + ".lock", os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path + ".lock", 0o000)

    def submit_as_another_user() -> str:
        if os.geteuid() == 0:
            drop_to_nobody()
        queue = JobQueue(path)
        queue.submit(Job("j", add, params={"a": 1, "b": 2}))
        return f"submitted, turns {queue.store._local.turns}"

    assert in_child(submit_as_another_user) == "submitted, turns None"
    assert JobQueue(path).stats()["pending"] == 1


def test_a_held_turn_really_excludes_another_process(db_path):
    store = SqliteStore(db_path)
    with store._write():
        fd = os.open(db_path + ".lock", os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    sqlite3.connect(db_path).close()


FLOCK_SYSCALL = {"x86_64": 73, "aarch64": 32}[platform.machine()]


def test_a_pooled_worker_waiting_for_a_held_turn_spins_briefly_then_sleeps_and_gets_it(db_path):
    """Workers spin for the lock before sleeping in flock() (turns.SPIN_BEFORE_SLEEP):
    the spin must end, so that a worker waiting behind a stopped holder costs no CPU."""
    JobQueue(db_path).close()
    holder = hold(db_path, "turn")
    worker_store = SqliteStore(db_path, queue_writes="unbounded")
    ended: dict = {}

    def write() -> None:
        ended["tid"] = threading.get_native_id()
        with worker_store._write() as conn:
            ended["pending"] = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]

    threading.Thread(target=write, daemon=True).start()
    try:
        wait_for(lambda: _in_syscall(ended.get("tid"), FLOCK_SYSCALL), what="the worker to sleep in flock()")
        assert "pending" not in ended
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    wait_for(lambda: "pending" in ended, timeout=30, what="the worker to get its turn")
    assert ended["pending"] == 0
    worker_store.close()


def _in_syscall(tid, number: int) -> bool:
    """Whether thread tid of this process is blocked in system call `number` now."""
    if tid is None:
        return False
    with open(f"/proc/self/task/{tid}/syscall") as syscall:
        return syscall.read().split()[0] == str(number)


def test_a_worker_that_may_use_one_cpu_sleeps_at_once_and_clients_never_spin(db_path):
    """Spinning only helps while the holder runs on another CPU."""
    JobQueue(db_path).close()

    def spin_times() -> str:
        pooled = SqliteStore(db_path, queue_writes="unbounded")
        client = SqliteStore(db_path)
        pooled.stats(), client.stats()  # each opens its connection and its place in the queue
        machine = (pooled._local.turns._spin_for, client._local.turns._spin_for)
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = SqliteStore(db_path, queue_writes="unbounded")
        pinned.stats()
        return " ".join(str(seconds) for seconds in (*machine, pinned._local.turns._spin_for))

    pooled, client, pinned = (float(word) for word in in_child(spin_times).split())
    assert pooled == (turns.SPIN_BEFORE_SLEEP if len(os.sched_getaffinity(0)) > 1 else 0.0)
    assert client == 0.0 and pinned == 0.0


INTERRUPTED_SUBMIT = """
import signal
# Ctrl-C as in a terminal: a test run started in the background (`&`, nohup) hands its
# children SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
from gigq_client import Job, JobQueue
from tests.jobfuncs import add
from tests.store.lock_holders import HOLDERS, hold
queue = JobQueue(DB, busy_timeout=60)
if SUBMIT_BEFORE:  # its queue is then known: the next submit is one call (made by the helper)
    queue.submit(Job("before", add, params={"a": 1, "b": 2}))
print("ready", flush=True)
sys.stdin.readline()
print("submitting", flush=True)
try:
    queue.submit(Job("interrupted", add, params={"a": 1, "b": 2}))
    print("submitted", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
sys.stdin.readline()
queue.submit(Job("after", add, params={"a": 1, "b": 2}))
print("submitted again", flush=True)
"""


@pytest.mark.parametrize("submit_before", [False, True], ids=["transaction", "one-call"])
def test_ctrl_c_during_a_submit_waiting_for_its_turn_writes_nothing_and_leaves_the_turn_free(db_path, submit_before):
    JobQueue(db_path).close()
    script = (f"import sys\nsys.path.insert(0, {ROOT!r})\nDB = {db_path!r}\nSUBMIT_BEFORE = {submit_before}\n"
              + INTERRUPTED_SUBMIT)
    client = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert client.stdout.readline().strip() == "ready"
    holder = hold(db_path, "turn")
    try:
        _tell(client, "submitting")
        wait_for(lambda: _waits_for_flock(client.pid), what="the submit to wait for its turn")
        client.send_signal(signal.SIGINT)
        assert client.stdout.readline().strip() == "interrupted"
    finally:
        holder.send_signal(signal.SIGCONT)
        holder.wait(timeout=30)
    probe = os.open(db_path + ".lock", os.O_RDWR)
    try:  # the interrupted client's helper gets the turn once the holder is gone, and passes it on
        wait_for(lambda: _try_flock(probe), what="the turn to be free")
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
    _tell(client, "submitted again")
    assert client.wait(timeout=30) == 0
    names = [row[0] for row in sqlite3.connect(db_path).execute("SELECT name FROM jobs ORDER BY name")]
    assert names == (["after", "before"] if submit_before else ["after"])


def _tell(client: subprocess.Popen, answer: str) -> None:
    """Let the client go on to its next step, and check what it says of it."""
    client.stdin.write("\n")
    client.stdin.flush()
    assert client.stdout.readline().strip() == answer


def _waits_for_flock(pid: int) -> bool:
    """Whether a blocked flock() request of pid is queued (/proc/locks marks waiters with ->)."""
    with open("/proc/locks") as locks:
        return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in locks)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
