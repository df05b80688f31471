"""Job functions used by the tests (workers import them by name)."""

from __future__ import annotations

import os
import time


def add(a, b):
    return a + b


def echo(**kwargs):
    return kwargs


def noop():
    return None


def fail(message="boom"):
    raise RuntimeError(message)


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def combine(parent_results):
    return sorted(v for v in parent_results.values() if v is not None)


def pid():
    return os.getpid()


class Holder:
    def method(self):
        return 1


def make_closure():
    def inner():
        return 1

    return inner


def hang():
    import signal

    while True:
        signal.pause()  # sleeps until a signal arrives, and ignores the ones that do not kill


def record(path, tag="", seconds=0.0):
    """Append this run (pid and tag) to `path`; sleep if asked. Used to count runs."""
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()} {tag}\n")
    time.sleep(seconds)
    return tag


def spawn_and_hang(pid_file):
    """Start a child (and a grandchild that ignores SIGTERM), note their pids, then hang."""
    import subprocess
    import sys

    code = (
        "import os, signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "grand = subprocess.Popen([sys.executable, '-c', 'import signal; "
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.pause()'], start_new_session=True)\n"
        "open(sys.argv[1], 'w').write(f'{os.getpid()} {grand.pid}')\n"
        "signal.pause()\n"
    )
    subprocess.Popen([sys.executable, "-c", code, pid_file])
    hang()


def ignore_term_and_hang():
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hang()


def exit_job(code=3):
    import sys

    sys.exit(code)


def hard_exit(path):
    with open(path, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    os._exit(9)


def hog_memory(megabytes):
    global _HOARD
    _HOARD = bytearray(megabytes * 2**20)
    for index in range(0, len(_HOARD), 4096):
        _HOARD[index] = 1
    return megabytes


def version_marker():
    return "v1"


def close_streams():
    import sys

    print("about to close stdout and stderr")
    sys.stdout.close()
    sys.stderr.close()
    os.close(1)
    os.close(2)
    return "closed"


def redirect_streams(path):
    handle = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    return "redirected"


def raise_keyboard_interrupt():
    raise KeyboardInterrupt


def raise_base_exception():
    class Custom(BaseException):
        pass

    raise Custom("not an Exception")


def segfault():
    import ctypes

    ctypes.string_at(0)


def not_json():
    return {"when": object()}


def looped_result():
    result = {"a": 1}
    result["self"] = result
    return result


def huge_result(megabytes):
    return "x" * (megabytes * 2**20)


def forks_and_returns(pid_file):
    """Start a grandchild that would outlive the job, note its pid, and return."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
    with open(pid_file, "w") as handle:
        handle.write(str(child.pid))
    return child.pid


def double_fork(pid_file):
    """A grandchild that escapes the job by double-forking (like a daemon would), then return."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            with open(pid_file, "w") as handle:
                handle.write(str(os.getpid()))
            import signal

            while True:
                signal.pause()
        os._exit(0)
    os.waitpid(pid, 0)
    return "escaped"


def wait_claimed_then_given_back(db, count, timeout=10.0):
    """Runs while a worker claims `count` jobs ahead: returns True once it saw them
    all claimed and then all pending again."""
    from gigq_client import JobQueue

    queue = JobQueue(db)
    deadline = time.monotonic() + timeout
    claimed = False
    while time.monotonic() < deadline:
        pending = len(queue.list_jobs(status="pending"))
        claimed = claimed or pending == 0
        if claimed and pending == count:
            return True
        time.sleep(0.005)
    return False


def touch_and_hang(path):
    with open(path, "w") as marker:
        marker.write(str(os.getpid()))
    hang()


def spin(seconds):
    """Hold the CPU (and the GIL) for `seconds`."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def status_of(db, job_id):
    """The status another job has in the database while this one runs."""
    from gigq_client import JobQueue

    return JobQueue(db).get_status(job_id)["status"]


def rendezvous(folder, count, timeout=30.0):
    """Note this run in `folder`, then wait until `count` runs have: they can only all
    complete if they run at the same time. Returns this run's pid."""
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + timeout
    while len(os.listdir(folder)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(folder))} of {count} runs were running together")
        time.sleep(0.01)
    return os.getpid()


def freeze_holding_the_write_lock(db):
    """Take SQLite's write lock on the queue's database, then stop this process (the
    worker) with it held, as a worker frozen mid-commit would be."""
    import signal
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    os.kill(os.getpid(), signal.SIGSTOP)
    conn.execute("ROLLBACK")
    return "thawed"
