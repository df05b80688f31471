"""Real second processes that hold the write lock and stop there (SIGSTOP), as a debugger
or a frozen cgroup would leave them; the write-turn tests make them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, wait_for

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
    wait_for(lambda: stopped(holder.pid), what="the holder to stop")
    return holder


def stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"
