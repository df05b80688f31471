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

HOLDERS = {
    # a gigq client stopped inside its write transaction: it holds the turn and SQLite's lock
    "client": """
from gigq_client.store import SqliteStore
store = SqliteStore(DB)
with store._write():
    print("holding", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
""",
    # another program that knows nothing of the turns: it holds SQLite's lock only
    "sqlite": """
conn = sqlite3.connect(DB, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
conn.execute("COMMIT")
""",
    # a writer stopped while it holds its turn, before it began its transaction
    "turn": """
fd = os.open(DB + ".lock", os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
""",
}


def hold(db_path: str, kind: str) -> subprocess.Popen:
    script = f"import fcntl, os, signal, sqlite3, sys\nsys.path.insert(0, {ROOT!r})\nDB = {db_path!r}\n" + HOLDERS[kind]
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    wait_for(lambda: _stopped(holder.pid), what="the holder to stop")
    return holder


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


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


INTERRUPTED_SUBMIT = """
from gigq_client import Job, JobQueue
from tests.jobfuncs import add
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
