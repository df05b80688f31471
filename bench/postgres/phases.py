"""The measurements, one function each, every one on a fresh database and in a fresh folder.

A phase returns a dict of figures. Anything that goes wrong in the system being measured
(a client that fails, a drain past its deadline, workers that die) raises PhaseFailed,
which the caller records as that cell's failure; the processes are ended in every case
and the database is dropped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

from comparison import driver, outputs, processes
from comparison.driver import PhaseFailed
from comparison.joblog import JobLog

from .server import Server
from .systems import System


@dataclass
class Plan:
    jobs: int  # per-call enqueue, bulk enqueue and no-op drain
    sleep_jobs: int  # 10 ms drain
    idle_seconds: float  # idle pool before the latency jobs
    latency_jobs: int
    latency_interval: float
    drain_timeout: float = 300.0
    latency_timeout: float = 60.0
    stop_grace: float = 3.0


@dataclass
class Place:
    """One measurement's database and folder (the job log, each process's output)."""

    url: str
    folder: str

    @property
    def job_log(self) -> str:
        return os.path.join(self.folder, "jobs.log")


def enqueue_and_drain(system: System, server: Server, plan: Plan, kind: str, jobs: int) -> dict:
    """Enqueue `jobs` one call each with no workers, then start the workers and time the drain."""
    with fresh_place(system, server) as place:
        run_client(system, place, "init")
        enqueued = run_client(system, place, "enqueue", "--jobs", str(jobs), "--kind", kind)
        log = JobLog(place.job_log)
        log.read()
        if log.starts:
            raise PhaseFailed(f"{len(log.starts)} jobs ran before any worker was started")
        running = _drain(system, plan, place, log, jobs)
        return {
            "enqueue_per_s": jobs / enqueued["seconds"],
            "drain_spawn_per_s": jobs / (log.last_end() - running.spawned_at),
            "drain_steady_per_s": jobs / (log.last_end() - log.first_start()),
            "repeated_starts": log.repeated_starts,
            "workers_used": len({pid for _, _, pid in log.starts.values()}),
            **outputs.gap_figures(log),
            **_log_notes(system, place, running),
        }


def bulk_enqueue(system: System, server: Server, plan: Plan) -> dict:
    with fresh_place(system, server) as place:
        run_client(system, place, "init")
        outcome = run_client(system, place, "many", "--jobs", str(plan.jobs))
    return {"bulk_per_s": plan.jobs / outcome["seconds"]}


def idle_latency(system: System, server: Server, plan: Plan) -> dict:
    """An idle pool, then jobs `latency_interval` apart: submit-to-start latency."""
    with fresh_place(system, server) as place:
        run_client(system, place, "init")
        log = JobLog(place.job_log)
        running = _start(system, place)
        try:
            _idle(running, plan.idle_seconds, place)
            run_client(system, place, "latency",
                       "--jobs", str(plan.latency_jobs), "--interval", str(plan.latency_interval))
            if not log.wait_for(plan.latency_jobs, plan.latency_timeout, tick=running.alive):
                raise PhaseFailed(outputs.unfinished(log, plan.latency_jobs, plan.latency_timeout,
                                                     running, place.folder))
        finally:
            processes.stop(running, plan.stop_grace)
        latencies = log.latencies_ms()
        return {
            "latency_p50_ms": outputs.percentile(latencies, 50),
            "latency_p99_ms": outputs.percentile(latencies, 99),
            "latency_max_ms": latencies[-1],
            **_log_notes(system, place, running),
        }


# pieces -------------------------------------------------------------------
@contextlib.contextmanager
def fresh_place(system: System, server: Server) -> Iterator[Place]:
    url = server.new_database()
    try:
        with tempfile.TemporaryDirectory(prefix=f"bench-pg-{system.key}-") as folder:
            yield Place(url, folder)
    finally:
        server.drop(url)


def run_client(system: System, place: Place, action: str, *options: str) -> dict:
    return driver.run_client(system, place.url, place.folder, place.job_log, action, *options)


def _start(system: System, place: Place) -> processes.Running:
    return processes.start(system.commands(place.url), place.folder, system.env(place.url, place.job_log), place.folder)


def _drain(system: System, plan: Plan, place: Place, log: JobLog, jobs: int) -> processes.Running:
    running = _start(system, place)
    try:
        finished = log.wait_for(jobs, plan.drain_timeout, tick=running.alive)
        unfinished = None if finished else outputs.unfinished(log, jobs, plan.drain_timeout, running, place.folder)
    finally:
        processes.stop(running, plan.stop_grace)
    if unfinished:
        raise PhaseFailed(unfinished)
    return running


def _idle(running: processes.Running, seconds: float, place: Place) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running.alive():
            raise PhaseFailed(f"the workers exited while idle: {outputs.output_tail(place.folder)}")
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))








def _log_notes(system: System, place: Place, running: processes.Running) -> dict:
    """Errors the system logged, and whether SIGKILL was needed to stop it."""
    return outputs.log_notes(place.folder, running,
                             lambda lines: [line.rstrip() for line in lines if is_problem(system, line)])


def is_problem(system: System, line: str) -> bool:
    if system.key.startswith("gigqd"):  # JSON lines at warning and above: every one is worth seeing
        return bool(line.strip())
    return any(word in line for word in ("ERROR", "Traceback", "CRITICAL"))





