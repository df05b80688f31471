"""The measurements, one function each, every one in a fresh temporary directory.

A phase returns a dict of figures. Anything that goes wrong in the system being
measured (a client that fails, a drain past its deadline, workers that die) raises
PhaseFailed, which the caller records as that cell's failure; the processes are
ended in every case.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator

from . import driver, no_queue, outputs, processes, raw_sqlite
from .driver import CLIENT_TIMEOUT, PhaseFailed
from .joblog import JobLog
from .systems import System

RSS_SAMPLE_SECONDS = 0.25
SETTLE_SECONDS = 0.5  # after the last latency job, before idle CPU is sampled
BOOT_SECONDS = 1.0  # a started daemon's workers are ready well within this
BURST_LEAD_SECONDS = 2.0  # time for every burst client to start python and open the store



@dataclass
class Plan:
    jobs: int
    sleep_jobs: int  # jobs in the 10 ms drain
    idle_seconds: float  # idle pool before the latency jobs
    latency_jobs: int
    latency_interval: float
    cpu_seconds: float  # idle CPU sampling window
    contention_clients: int = 16  # client processes submitting at once in the contention phase
    contention_jobs: int = 1500  # submits per client there, one call each
    drain_timeout: float = 300.0
    latency_timeout: float = 60.0
    stop_grace: float = 3.0


@dataclass
class Place:
    """One measurement's temporary directory and its files."""

    folder: str

    @property
    def db(self) -> str:
        return os.path.join(self.folder, "jobs.db")

    @property
    def job_log(self) -> str:
        return os.path.join(self.folder, "jobs.log")


# phases -------------------------------------------------------------------
def enqueue_and_drain(system: System, plan: Plan, kind: str, jobs: int) -> dict:
    """Enqueue `jobs` one call each with no workers, then start the workers and time the drain."""
    with _place(system) as place:
        enqueued = _client(system, place, "enqueue", "--jobs", str(jobs), "--kind", kind)
        log = JobLog(place.job_log)
        log.read()
        if log.starts:
            raise PhaseFailed(f"{len(log.starts)} jobs ran before any worker was started")
        spawned_at, peak, notes = _drain(system, plan, place, log, jobs)
        figures = {
            "jobs": jobs,
            "enqueue_per_s": jobs / enqueued["seconds"],
            "drain_spawn_per_s": jobs / (log.last_end() - spawned_at),
            "drain_steady_per_s": jobs / (log.last_end() - log.first_start()),
            "repeated_starts": log.repeated_starts,
            "workers_used": len({pid for _, _, pid in log.starts.values()}),
            **outputs.gap_figures(log),
            **peak,
            **notes,
        }
    return figures


def enqueue_beside_daemon(system: System, plan: Plan) -> dict:
    """The one-per-call enqueue again, with a daemon registered so that each submit rings
    its doorbell: as while gigqd runs with every worker busy, and with one idle."""
    figures = {}
    for pool in ("busy", "idle"):
        with _place(system) as place:
            enqueued = _client(system, place, "enqueue", "--jobs", str(plan.jobs), "--beside-daemon", pool)
        figures[f"enqueue_{pool}_daemon_per_s"] = plan.jobs / enqueued["seconds"]
    return figures


def submit_many(system: System, plan: Plan) -> dict:
    with _place(system) as place:
        outcome = _client(system, place, "many", "--jobs", str(plan.jobs))
    return {
        "many_per_s": plan.jobs / outcome["seconds"],
        "many_with_build_per_s": plan.jobs / (outcome["seconds"] + outcome["build_seconds"]),
    }


def contention(system: System, plan: Plan) -> dict:
    """Many client processes submitting one job per call while the daemon drains them
    (per-submit times, errors, throughput), and the same clients with no daemon
    followed by the drain: what doing both one after the other takes."""
    total = plan.contention_clients * plan.contention_jobs
    with _place(system) as place:
        _client(system, place, "init")
        alone = _burst(system, place, plan)
        log = JobLog(place.job_log)
        _drain(system, plan, place, log, total)
        sequential = alone["ended"] - alone["began"] + log.last_end() - log.first_start()
    with _place(system) as place:
        _client(system, place, "init")
        log = JobLog(place.job_log)
        running = _start(system, place)
        try:
            _idle(running, BOOT_SECONDS, place)
            loaded = _burst(system, place, plan)
            if not log.wait_for(total, plan.drain_timeout, tick=running.alive):
                raise PhaseFailed(outputs.unfinished(log, total, plan.drain_timeout, running, place.folder))
        finally:
            processes.stop(running, plan.stop_grace)
        figures = {
            **_submit_figures(loaded, "contended"), **_submit_figures(alone, "alone"),
            "contended_submitted": total, "contended_completed": len(log.ends),
            "repeated_starts": log.repeated_starts,
            "contended_per_s": total / (log.last_end() - loaded["began"]),
            "sequential_per_s": total / sequential,
            "drain_alone_per_s": total / (sequential - (alone["ended"] - alone["began"])),
            **_log_notes(system, place, running),
        }
    figures["contended_vs_sequential"] = figures["contended_per_s"] / figures["sequential_per_s"]
    return figures


def _burst(system: System, place: Place, plan: Plan) -> dict:
    """Start every client at once (each waits for the same moment), collect what each timed."""
    start_at = time.time() + BURST_LEAD_SECONDS
    argv = [system.client_argv("burst", place.db, "--jobs", str(plan.contention_jobs), "--start-at", repr(start_at),
                               "--first", str(n * plan.contention_jobs)) for n in range(plan.contention_clients)]
    env = system.env(place.db, place.job_log)
    clients = [subprocess.Popen(a, cwd=place.folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for a in argv]
    reports = []
    try:
        for client in clients:
            out, err = client.communicate(timeout=CLIENT_TIMEOUT)
            if client.returncode != 0:
                raise PhaseFailed(f"a burst client exited {client.returncode}: {outputs.tail(err)}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    except subprocess.TimeoutExpired:
        raise PhaseFailed(f"a burst client did not finish within {CLIENT_TIMEOUT:g} s") from None
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
    return {"reports": reports, "began": min(r["began"] for r in reports), "ended": max(r["ended"] for r in reports),
            "late": max(r["late"] for r in reports)}


def _submit_figures(burst: dict, prefix: str) -> dict:
    reports = burst["reports"]
    every = sorted(t * 1000 for r in reports for t in r["seconds"])
    worst_p99 = max(outputs.percentile(sorted(t * 1000 for t in r["seconds"]), 99) for r in reports)
    errors = sum(r["errors"] for r in reports)
    first_error = next((r["first_error"] for r in reports if r["first_error"]), None)
    figures = {f"{prefix}_p50_ms": outputs.percentile(every, 50), f"{prefix}_p99_ms": outputs.percentile(every, 99),
               f"{prefix}_max_ms": every[-1], f"{prefix}_worst_client_p99_ms": worst_p99,
               f"{prefix}_errors": errors, f"{prefix}_late_s": burst["late"]}
    if first_error:
        figures[f"{prefix}_first_error"] = first_error
    return figures


def idle_latency_cpu_rss(system: System, plan: Plan) -> dict:
    """Idle pool, then jobs 20 ms apart (latency), then idle CPU and RSS of the tree."""
    with _place(system) as place:
        _client(system, place, "init")
        log = JobLog(place.job_log)
        running = _start(system, place)
        try:
            _idle(running, plan.idle_seconds, place)
            _client(system, place, "latency",
                    "--jobs", str(plan.latency_jobs), "--interval", str(plan.latency_interval))
            if not log.wait_for(plan.latency_jobs, plan.latency_timeout, tick=running.alive):
                raise PhaseFailed(outputs.unfinished(log, plan.latency_jobs, plan.latency_timeout,
                                                     running, place.folder))
            _idle(running, SETTLE_SECONDS, place)
            cpu_percent = _idle_cpu(running, plan.cpu_seconds, place)
            rss = _rss(system, running, "rss")
        finally:
            processes.stop(running, plan.stop_grace)
        latencies = log.latencies_ms()
        return {
            "latency_p50_ms": outputs.percentile(latencies, 50),
            "latency_p99_ms": outputs.percentile(latencies, 99),
            "latency_max_ms": latencies[-1],
            "idle_cpu_percent": cpu_percent,
            **rss,
            **_log_notes(system, place, running),
        }


def raw_ceiling(plan: Plan) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-raw-") as folder:
        return raw_sqlite.measure(folder, plan.jobs)


def no_queue_floor(plan: Plan, workers: int) -> dict:
    """The 10 ms jobs called back to back with no queue: what the machine allows."""
    with tempfile.TemporaryDirectory(prefix="bench-noqueue-") as folder:
        try:
            return no_queue.measure(folder, plan.sleep_jobs, workers)
        except RuntimeError as error:
            raise PhaseFailed(str(error)) from None


# pieces -------------------------------------------------------------------
@contextlib.contextmanager
def _place(system: System) -> Iterator[Place]:
    """A fresh temporary directory for one measurement, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{system.key}-") as folder:
        yield Place(folder)


def _client(system: System, place: Place, action: str, *options: str) -> dict:
    return driver.run_client(system, place.db, place.folder, place.job_log, action, *options)


def _start(system: System, place: Place) -> processes.Running:
    return processes.start(system.commands(place.db), place.folder, system.env(place.db, place.job_log), place.folder)


def _drain(system: System, plan: Plan, place: Place, log: JobLog, jobs: int) -> tuple:
    """Start the workers, wait for `jobs` ends; returns (spawn time, peak RSS, log notes)."""
    running = _start(system, place)
    peak = {"peak_rss_supervisor_mb": None, "peak_rss_worker_mb": None}
    next_sample = [0.0]

    def tick() -> bool:
        if time.monotonic() >= next_sample[0]:
            next_sample[0] = time.monotonic() + RSS_SAMPLE_SECONDS
            for key, value in _rss(system, running, "peak_rss").items():
                if key in peak and value is not None:
                    peak[key] = max(value, peak[key] or 0.0)
        return running.alive()

    try:
        unfinished = None
        if not log.wait_for(jobs, plan.drain_timeout, tick=tick):
            unfinished = outputs.unfinished(log, jobs, plan.drain_timeout, running, place.folder)
        next_sample[0] = 0.0  # a drain shorter than the sampling interval still gets its workers sampled
        tick()
    finally:
        processes.stop(running, plan.stop_grace)
    if unfinished:
        raise PhaseFailed(unfinished)
    return running.spawned_at, peak, _log_notes(system, place, running)


def _idle(running: processes.Running, seconds: float, place: Place) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running.alive():
            raise PhaseFailed(f"the workers exited while idle: {outputs.output_tail(place.folder)}")
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _idle_cpu(running: processes.Running, seconds: float, place: Place) -> float:
    """CPU of the whole tree over `seconds`, as % of one core."""
    before, started = processes.cpu_seconds(running.tree()), time.monotonic()
    _idle(running, seconds, place)
    after, elapsed = processes.cpu_seconds(running.tree()), time.monotonic() - started
    return 100.0 * processes.cpu_used(before, after) / elapsed


def _rss(system: System, running: processes.Running, prefix: str) -> dict:
    supervisor, workers = system.roles(running.tree())
    worker_rss = [r for r in (processes.rss_mb(w) for w in workers) if r is not None]
    return {
        f"{prefix}_supervisor_mb": processes.rss_mb(supervisor) if supervisor is not None else None,
        f"{prefix}_worker_mb": max(worker_rss) if worker_rss else None,
        f"{prefix}_workers_seen": len(worker_rss),
    }








def _log_notes(system: System, place: Place, running: processes.Running) -> dict:
    """Warnings and errors the system logged, and whether SIGKILL was needed to stop it."""
    return outputs.log_notes(place.folder, running, lambda lines: _problems(system, lines))


def _problems(system: System, lines) -> list:
    found = []
    for line in lines:
        line = line.rstrip()
        if system.key == "gigqd":
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("event") != "config_warned":  # the allowed_modules="*" default, expected
                    found.append(line)
                continue
            if line:
                found.append(line)
        elif "ERROR" in line or "Traceback" in line or "CRITICAL" in line:
            found.append(line)
    return found





