"""The three queues compared: how to run each one's client and its two workers, on its defaults.

Each system says which python runs it, the environment its processes need, the
commands that start its workers, and which of its processes are the supervisor
and which the workers (for RSS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Optional

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(BENCH)
PEERS = os.path.join(BENCH, "peers")
CLIENT = os.path.join(BENCH, "comparison", "client.py")
WORKERS = 2


@dataclass
class System:
    key: str  # gigqd, gigqd-batched, gigq, huey
    label: str
    python: str
    pythonpath: list
    commands: Callable[[str], list]  # db path -> argv of each process to start
    roles: Callable[[list], tuple]  # process tree -> (supervisor or None, [workers])
    has_submit_many: bool = False
    settings: dict = field(default_factory=dict)  # GIGQD_* settings that differ from the defaults
    client_key: str = ""  # which client.py system submits (default: key)

    def env(self, db: str, job_log: str) -> dict:
        """A clean environment: no GIGQD_* settings leak in, so every system runs on its
        defaults (or on the settings it names)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIGQD_") and k != "PYTHONPATH"}
        env.update(PYTHONPATH=os.pathsep.join(self.pythonpath), BENCH_JOB_LOG=job_log,
                   BENCH_HUEY_DB=db, PYTHONDONTWRITEBYTECODE="1", **self.settings)
        return env

    def client_argv(self, action: str, db: str, *options: str) -> list:
        return [self.python, CLIENT, self.client_key or self.key, action, "--db", db, *options]


def gigqd(python: str) -> System:
    def commands(db: str) -> list:
        return [[python, "-m", "gigqd", "--db", db, "--workers", str(WORKERS),
                 "--log-format", "json", "--log-level", "warning"]]

    return System("gigqd", "gigqd", python, [BENCH, REPO], commands, _supervisor_and_children, has_submit_many=True)


def gigqd_batched(python: str) -> System:
    """gigqd with the opt-in record_outcomes = "batched" (many outcomes per commit)."""
    system = gigqd(python)
    system.key, system.label, system.client_key = "gigqd-batched", "gigqd, outcomes batched (opt-in)", "gigqd"
    system.settings = {"GIGQD_RECORD_OUTCOMES": "batched"}
    return system


def gigq(python: str) -> System:
    def commands(db: str) -> list:  # no supervisor: one `gigq worker` process per worker
        return [[python, "-m", "gigq.cli", "--db", db, "worker"] for _ in range(WORKERS)]

    return System("gigq", "gigq 0.5.1", python, [BENCH], commands, _roots_only)


def huey(python: str) -> System:
    def commands(db: str) -> list:
        return [[python, "-m", "huey.bin.huey_consumer", "huey_app.huey", "-w", str(WORKERS), "-k", "process"]]

    return System("huey", "huey SqliteHuey", python, [PEERS, BENCH], commands, _consumer_and_workers)


def _supervisor_and_children(tree: list) -> tuple:
    """gigqd: the supervisor is the root; its direct children are the workers."""
    root = tree[0] if tree else None
    return root, [p for p in tree[1:] if _parent(p) == root.pid] if root else []


def _roots_only(tree: list) -> tuple:
    """gigq: every started process is a worker; there is no supervisor."""
    return None, [p for p in tree if _parent(p) not in {q.pid for q in tree}]


def _consumer_and_workers(tree: list) -> tuple:
    """huey -k process: the consumer forks its scheduler first, then the workers."""
    root = tree[0] if tree else None
    if root is None:
        return None, []
    children = sorted((p for p in tree[1:] if _parent(p) == root.pid), key=lambda p: (p.create_time(), p.pid))
    return root, children[1:]


def _parent(process) -> Optional[int]:
    try:
        return process.ppid()
    except Exception:
        return None
