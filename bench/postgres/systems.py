"""The three queues compared on PostgreSQL: how each one's workers start, on its defaults.

A system names the python that runs it, the environment its processes need and the
commands that start its workers. `commands(url)` returns one argv per process to start;
today every system runs on this machine, and the multi-host comparison (issue 15) can
hand each host's command to its own network namespace without changing the phases.

The nearest equivalent of "2 worker processes" for each:
  gigqd          one supervisor forking 2 worker processes (`--workers 2`)
  pgqueuer       2 `pgq run` processes (one asyncio loop each; it has no process pool)
  procrastinate  2 `procrastinate worker` processes (concurrency 1, its default)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from .paths import APPS, BENCH, CLIENT, REPO

WORKERS = 2
JOB_MODULE = "benchjobs"


@dataclass
class System:
    key: str
    label: str
    python: str
    pythonpath: list
    commands: Callable[[str], list]  # database URL -> argv of each process to start
    extra_env: dict

    def env(self, url: str, job_log: str) -> dict:
        """A clean environment: no GIGQD_*/PG* settings leak in, so every system runs on its defaults."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GIGQD_", "GIGQ_", "PG")) and k != "PYTHONPATH"}
        env.update(PYTHONPATH=os.pathsep.join(self.pythonpath), BENCH_JOB_LOG=job_log, BENCH_PG_URL=url,
                   PYTHONDONTWRITEBYTECODE="1", **self.extra_env)
        return env

    def client_argv(self, action: str, url: str, *options: str) -> list:
        return [self.python, CLIENT, self.key, action, "--db", url, *options]


def gigqd(python: str, batched: bool = False) -> System:
    """gigqd on its defaults; `batched` (not a default, never judged) records outcomes as
    pgqueuer does, several per transaction, to show what the per-job commit costs."""
    def commands(url: str) -> list:
        return [[python, "-m", "gigqd", "--db", url, "--workers", str(WORKERS),
                 "--log-format", "json", "--log-level", "warning"]]

    # On PostgreSQL allowed_modules must name the job modules ("*" is refused with a URL).
    env = {"GIGQD_ALLOWED_MODULES": JOB_MODULE}
    if batched:
        return System("gigqd-batched", "gigqd, record_outcomes = batched", python, [BENCH, REPO], commands,
                      {**env, "GIGQD_RECORD_OUTCOMES": "batched"})
    return System("gigqd", "gigqd (PostgreSQL)", python, [BENCH, REPO], commands, env)


def pgqueuer(python: str) -> System:
    def commands(url: str) -> list:
        return [[python, "-m", "pgqueuer", "run", "pgqueuer_app:create"] for _ in range(WORKERS)]

    return System("pgqueuer", "pgqueuer (asyncpg)", python, [APPS, BENCH], commands, {})


def procrastinate(python: str) -> System:
    def commands(url: str) -> list:
        return [[python, "-m", "procrastinate", "--app", "procrastinate_app.app", "worker"] for _ in range(WORKERS)]

    return System("procrastinate", "procrastinate (psycopg)", python, [APPS, BENCH], commands, {})
