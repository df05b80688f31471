"""Chaos run: the real daemon, real clients, real kill -9s. No job may be lost or completed twice.

What it does:

1. starts gigqd (tests.integration.daemon.Daemon) on a fresh database, with a short
   heartbeat timeout so that a SIGSTOPped worker is declared hung within a second or two;
2. starts several client processes (tests/chaos/client.py) that submit the jobs at
   once, some with `submit`, some in `submit_many` batches;
3. while the jobs run, injects faults one after another: SIGKILL of a busy worker,
   SIGSTOP of a busy worker (for longer than heartbeat_timeout, then SIGCONT), and
   SIGKILL of the supervisor followed by a restart on the same database;
4. once every job is in a final state, stops the daemon and checks, job by job:
   a. it exists and is final (none lost, none stuck);
   b. it completed (its error is reported if not);
   c. it has exactly one completed execution, from a run the job log saw;
   d. each extra run (lines in the job log beyond the first) is explained by an
      execution that did not complete and says why (failed/timeout/interrupted, with an error);
5. prints figures: jobs, runs, faults by kind, lost, duplicated completions, re-runs,
   and how long after a fault its victims ran again.

Every job (tests/chaos/chaosjobs.py:mark) appends "token pid time" to a shared log
with O_APPEND before it works, so the log counts runs, including runs that were
killed; the client processes map tokens to the job ids `submit` returned.

From pytest: tests/chaos/test_chaos.py. As a script:

    python -m tests.chaos.chaos                  # a short run, as the test does
    python -m tests.chaos.chaos --long           # 50,000 jobs, faults until the end (make chaos)
    python -m tests.chaos.chaos --jobs 5000 --kills 10 --stops 2 --restarts 3

The exit status is 0 only if no job was lost, none completed twice, every re-run is
explained and every job completed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gigq_client import JobQueue  # noqa: E402
from gigq_client.jobs import FINAL_STATUSES  # noqa: E402
from tests.integration.daemon import Daemon  # noqa: E402

WORKER_KILL, WORKER_STOP, SUPERVISOR_RESTART = "worker_kill", "worker_stop", "supervisor_restart"
FAULT_KINDS = (WORKER_KILL, WORKER_STOP, SUPERVISOR_RESTART)
DAEMON_SETTINGS = dict(heartbeat_timeout=1.0, kill_grace=0.5, orphan_check_interval=1.0, poll_interval=1.0)


@dataclass
class Plan:
    """How big a run, and which faults."""

    jobs: int = 2500
    clients: int = 4
    workers: int = 4
    kills: int = 3  # planned faults (ignored when continuous)
    stops: int = 1
    restarts: int = 2
    continuous: bool = False  # inject faults (drawn by `weights`) until every job is final
    weights: tuple[int, int, int] = (8, 2, 1)  # kill, stop, restart
    gap: tuple[float, float] = (0.15, 0.5)  # seconds between two faults, at random
    stop_seconds: float = 2.5  # how long a SIGSTOPped worker stays stopped (> heartbeat_timeout + kill_grace)
    immediate_restart_share: float = 0.5  # restarts made without waiting for the old workers to leave
    submit_rate: float = 300.0  # jobs per second over all clients (0: as fast as they can), so faults land mid-stream
    max_attempts: int = 20
    max_ms: float = 20.0  # a job sleeps up to this many milliseconds...
    instant_share: float = 0.5  # ...except this share, which return at once (so workers claim in batches)
    slow_share: float = 0.005  # and this share, which work 200-1000 ms (so faults catch some mid-run)
    deadline: float = 50.0  # seconds for the whole run, faults and all
    log_level: str = "debug"
    seed: Optional[int] = None


@dataclass
class Fault:
    kind: str
    at: float  # epoch seconds the signal was sent
    pid: int  # the worker, or the supervisor
    daemon: str  # first 8 characters of the daemon id the process belonged to
    held: list[str] = field(default_factory=list)  # job ids the worker (or the daemon's workers) held
    current_token: Optional[str] = None  # the job the worker was running, per the job log
    workers: list[int] = field(default_factory=list)  # restart: the old supervisor's workers
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    plan: Plan
    folder: str
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)  # the promises broken (daemon bugs, or a harness bug)
    problems: list[str] = field(default_factory=list)  # everything else that went wrong (harness, environment)
    faults: list[Fault] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations and not self.problems

    def table(self) -> str:
        f = self.figures
        rows = [
            ("jobs submitted", f.get("jobs")),
            ("completed", f.get("completed")),
            ("not completed (final)", f.get("not_completed")),
            ("runs (job log lines)", f.get("runs")),
            ("jobs re-run", f.get("jobs_rerun")),
            ("extra runs", f.get("extra_runs")),
            ("worker kills (SIGKILL)", self._faults(WORKER_KILL)),
            ("worker stops (SIGSTOP)", self._faults(WORKER_STOP)),
            ("supervisor kill -9 + restart", self._faults(SUPERVISOR_RESTART)),
            ("faults skipped (no work left)", f.get("faults_skipped")),
            ("LOST", f.get("lost")),
            ("DUPLICATED COMPLETIONS", f.get("duplicated_completions")),
            ("UNEXPLAINED RE-RUNS", f.get("unexplained_reruns")),
            ("max kill -> re-run (s)", _fmt(f.get("max_kill_to_rerun"))),
            ("max stop -> re-run (s)", _fmt(f.get("max_stop_to_rerun"))),
            ("max restart -> re-run (s)", _fmt(f.get("max_restart_to_rerun"))),
            ("max restart -> daemon up (s)", _fmt(f.get("max_restart_downtime"))),
            ("submit errors (retried)", f.get("submit_errors")),
            ("executions by status", f.get("executions_by_status")),
            ("wall time (s)", _fmt(self.seconds)),
            ("jobs/s", _fmt(f.get("jobs_per_second"))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"chaos run in {self.folder} (seed {self.plan.seed})"]
        lines += [f"  {name:<{width}}  {value}" for name, value in rows]
        for title, items in (("VIOLATIONS", self.violations), ("PROBLEMS", self.problems)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines += ["  - " + item.replace("\n", "\n    ") for item in items[:50]]
                if len(items) > 50:
                    lines.append(f"  ... and {len(items) - 50} more")
        return "\n".join(lines)

    def _faults(self, kind: str) -> str:
        hits = self.figures.get("faults_with_victims", {}).get(kind, 0)
        return f"{self.figures.get(kind)} ({hits} cost a run)"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


class ChaosTimeout(AssertionError):
    """The run did not finish in time; the message holds the diagnostics."""


def _fmt(value: Any) -> Any:
    return f"{value:.3f}" if isinstance(value, float) else value


# ---------------------------------------------------------------------------------------------
# tailing the two logs


class DaemonLog:
    """The daemon's JSON log, read incrementally."""

    def __init__(self, path: Path):
        self.path, self.offset, self.events = path, 0, []

    def poll(self) -> list[dict]:
        if not self.path.exists():
            return self.events
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self.events.append(record)
        return self.events

    def find(self, event: str, **match: Any) -> list[dict]:
        self.poll()
        return [e for e in self.events if e.get("event") == event and all(e.get(k) == v for k, v in match.items())]

    def tail(self, lines: int = 50) -> str:
        if not self.path.exists():
            return "(no daemon log)"
        with open(self.path, "rb") as handle:
            handle.seek(max(0, self.path.stat().st_size - 200 * lines))
            return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


class JobLog:
    """The runs the jobs recorded: token -> [(pid, time)], read incrementally."""

    def __init__(self, path: Path):
        self.path, self.offset = path, 0
        self.runs: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.last_by_pid: dict[int, tuple[str, float]] = {}
        self.lines = 0
        self.malformed: list[str] = []

    def poll(self) -> "JobLog":
        if not self.path.exists():
            return self
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode(errors="replace").splitlines():
            parts = line.split()
            try:
                token, pid, at = parts[0], int(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                self.malformed.append(line)
                continue
            self.runs[token].append((pid, at))
            self.last_by_pid[pid] = (token, at)
            self.lines += 1
        return self


# ---------------------------------------------------------------------------------------------
# the run


class ChaosRun:
    def __init__(self, folder: Path, plan: Plan, echo: Callable[[str], None] = lambda _: None):
        self.folder, self.plan, self.echo = Path(folder), plan, echo
        self.folder.mkdir(parents=True, exist_ok=True)
        seed = plan.seed if plan.seed is not None else random.randrange(1 << 30)
        plan.seed = seed
        self.rng = random.Random(seed)
        self.daemon = Daemon(self.folder, workers=plan.workers, log_level=plan.log_level, **DAEMON_SETTINGS)
        self.daemon_log = DaemonLog(self.daemon.log_path)
        self.job_log_path = self.folder / "runs.log"
        self.job_log = JobLog(self.job_log_path)
        self.report = Report(plan=plan, folder=str(self.folder))
        self.daemon_id = ""  # first 8 characters of the running supervisor's id
        self.clients: list[subprocess.Popen] = []
        self.client_outputs: list[Path] = []
        self.supervisors: list[subprocess.Popen] = []
        self.seen: dict[int, psutil.Process] = {}  # every worker process ever seen, for the final clean-up
        self.stopped: Optional[psutil.Process] = None
        self.started = 0.0
        self.deadline = 0.0
        self.queue: Optional[JobQueue] = None

    # the whole run ---------------------------------------------------------------------------
    def run(self) -> Report:
        self.started = time.monotonic()
        self.deadline = self.started + self.plan.deadline
        try:
            self.queue = JobQueue(self.daemon.db)  # creates the database before anyone races to
            self._start_daemon()
            self._start_clients()
            self._wait(lambda: self.job_log.poll().lines > 0, "the first job to run")
            self._inject_faults()
            self._wait(self._all_final, "every job to reach a final state", interval=0.1)
            self.report.seconds = time.monotonic() - self.started
            self._stop_daemon()
            self._check_clients()
        finally:
            self._clean_up()
        self.analyse()
        (self.folder / "report.json").write_text(self.report.to_json())
        return self.report

    # processes -------------------------------------------------------------------------------
    def _start_daemon(self) -> None:
        if self.daemon._log_handle is not None:
            self.daemon._log_handle.close()
        self.daemon.start(wait=False)
        self.supervisors.append(self.daemon.process)
        pid = self.daemon.process.pid

        def started() -> Optional[dict]:
            if self.daemon.process.poll() is not None:
                raise self._timeout(f"the supervisor (pid {pid}) exited with {self.daemon.process.returncode} at start")
            found = self.daemon_log.find("daemon_started", pid=pid)
            return found[0] if found else None

        event = self._wait(started, f"supervisor pid {pid} to log daemon_started", limit=30)
        self.daemon_id = event.get("daemon_id", "")
        self._wait(lambda: len(self._workers()) >= self.plan.workers, f"{self.plan.workers} workers of pid {pid}",
                   limit=20)

    def _workers(self) -> list[psutil.Process]:
        """The live worker processes of the current supervisor (remembered for the clean-up)."""
        try:
            children = psutil.Process(self.daemon.process.pid).children()
        except psutil.Error:
            return []
        found = []
        for child in children:
            try:
                if "worker" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
                    self.seen.setdefault(child.pid, child)
            except psutil.Error:
                pass
        return found

    def _daemon_processes(self) -> list[psutil.Process]:
        """Every live process working in our folder: supervisors and workers, including workers forked
        in the instant before their supervisor was killed, which `_workers` may never have seen."""
        folder = os.path.realpath(self.folder)
        found = []
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.cwd() == folder and _alive(process):
                    found.append(process)
            except psutil.Error:
                pass
        return found

    def _start_clients(self) -> None:
        plan = self.plan
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = dict(os.environ, PYTHONPATH=path)
        share, extra = divmod(plan.jobs, plan.clients)
        for index in range(plan.clients):
            count = share + (1 if index < extra else 0)
            out = self.folder / f"client{index}.ids"
            err = open(self.folder / f"client{index}.err", "w")
            command = [
                sys.executable, "-m", "tests.chaos.client", "--db", self.daemon.db, "--job-log", str(self.job_log_path),
                "--out", str(out), "--index", str(index), "--count", str(count),
                "--rate", str(plan.submit_rate / plan.clients if plan.submit_rate else 0),
                "--max-attempts", str(plan.max_attempts), "--max-ms", str(plan.max_ms),
                "--instant-share", str(plan.instant_share), "--slow-share", str(plan.slow_share),
                "--seed", str(plan.seed),
            ]
            self.clients.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=err, stderr=subprocess.STDOUT))
            err.close()
            self.client_outputs.append(out)

    def _clients_done(self) -> bool:
        for client in self.clients:
            if client.poll() is None:
                return False
        return True

    def _check_clients(self) -> None:
        for index, client in enumerate(self.clients):
            if client.returncode != 0:
                text = (self.folder / f"client{index}.err").read_text()[-2000:]
                self.report.problems.append(f"client {index} exited with {client.returncode}:\n{text}")

    def _stop_daemon(self) -> None:
        """A graceful stop once everything is final: it must exit 0 and take its workers along."""
        workers = self._workers()
        try:
            code = self.daemon.stop(timeout=30)
        except subprocess.TimeoutExpired:
            self.report.problems.append("the daemon did not stop within 30 s of SIGTERM")
            return
        if code != 0:
            self.report.problems.append(f"the daemon exited with {code} on SIGTERM")
        if not self._wait_dead(workers, 10):
            self.report.problems.append(f"workers {[p.pid for p in workers]} outlived the graceful stop by 10 s")

    def _clean_up(self) -> None:
        """Leave nothing behind: clients, every supervisor, every worker ever seen, whole trees."""
        if self.stopped is not None:
            _quietly(self.stopped.resume)
        doomed: list[psutil.Process] = []
        for popen in [*self.clients, *self.supervisors]:
            if popen.poll() is None:
                try:
                    process = psutil.Process(popen.pid)
                    doomed += [process, *process.children(recursive=True)]
                except psutil.Error:
                    pass
        for process in [*self.seen.values(), *self._daemon_processes()]:
            if _alive(process):
                doomed.append(process)
                try:
                    doomed += process.children(recursive=True)
                except psutil.Error:
                    pass
        for process in doomed:
            _quietly(process.resume)
            _quietly(process.kill)
        psutil.wait_procs(doomed, timeout=10)
        for popen in [*self.clients, *self.supervisors]:
            try:
                popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.daemon.kill_everything()  # closes its log handle as well
        if self.queue is not None:
            self.queue.close()
        left = sorted({p.pid for p in [*self.seen.values(), *self._daemon_processes()] if _alive(p)})
        if left:
            self.report.problems.append(f"processes still alive after the clean-up: {left}")

    # waiting -----------------------------------------------------------------------------------
    def _wait(self, condition: Callable[[], Any], what: str, limit: Optional[float] = None,
              interval: float = 0.02) -> Any:
        """Poll `condition` until it is truthy; fail with diagnostics at `limit` or the run's deadline."""
        until = self.deadline if limit is None else min(self.deadline, time.monotonic() + limit)
        while True:
            code = self.daemon.process.poll() if self.daemon.process is not None else None
            if code is not None:  # we kill it only in _restart_supervisor, which starts the next one at once
                raise self._timeout(f"the supervisor (pid {self.daemon.process.pid}) exited by itself with {code} "
                                    f"while waiting for {what}")
            value = condition()
            if value:
                return value
            if time.monotonic() > until:
                raise self._timeout(f"timed out waiting for {what}")
            time.sleep(interval)

    def _poll_until(self, condition: Callable[[], Any], limit: float, interval: float = 0.01) -> Any:
        """Poll `condition` for at most `limit` seconds; its last value (falsy if it never held)."""
        until = min(self.deadline, time.monotonic() + limit)
        while True:
            value = condition()
            if value or time.monotonic() > until or self._all_final():
                return value
            time.sleep(interval)

    def _wait_dead(self, processes: list[psutil.Process], limit: float) -> bool:
        until = time.monotonic() + limit
        while any(_alive(p) for p in processes):
            if time.monotonic() > until:
                return False
            time.sleep(0.02)
        return True

    def _all_final(self) -> bool:
        if not self._clients_done():
            return False
        stats = self.queue.stats()
        done = sum(count for status, count in stats.items() if status in FINAL_STATUSES)
        return stats.get("total", 0) >= self.plan.jobs and done == stats["total"]

    def _timeout(self, what: str) -> ChaosTimeout:
        return ChaosTimeout(f"{what} ({time.monotonic() - self.started:.1f} s into the run, in {self.folder})\n\n"
                            + self.diagnostics())

    def diagnostics(self) -> str:
        parts = []
        try:
            parts.append(f"jobs by status: {self.queue.stats()}")
            stuck = [j for s in ("running", "pending") for j in self.queue.list_jobs(status=s, limit=10)]
            for job in stuck[:10]:
                status = self.queue.get_status(job["id"])
                if status["status"] in FINAL_STATUSES:
                    continue  # it moved on since the listing
                parts.append(f"  not final: {job['id']} {status['status']} attempts={status['attempts']} "
                             f"worker={status['worker_id']} error={status['error']!r} "
                             f"executions={[(e['status'], e['worker_id'], e['error']) for e in status['executions']]}")
        except Exception as error:  # diagnostics must not hide the failure they describe
            parts.append(f"(could not read the queue: {error!r})")
        parts.append(f"clients still running: {[i for i, c in enumerate(self.clients) if c.poll() is None]}")
        parts.append(f"job log lines: {self.job_log.poll().lines}")
        parts.append("faults so far:")
        parts += [f"  {_describe_fault(f, self.started_wall)}" for f in self.report.faults]
        try:
            tree = psutil.Process(self.daemon.process.pid)
            parts.append(f"supervisor {tree.pid} {tree.status()}: " + ", ".join(
                f"{p.pid} {' '.join(p.cmdline())!r} {p.status()}" for p in tree.children(recursive=True)))
        except (psutil.Error, AttributeError):
            parts.append("supervisor: not running")
        parts.append("last 50 lines of the daemon log:")
        parts.append(self.daemon_log.tail(50))
        return "\n".join(parts)

    @property
    def started_wall(self) -> float:
        return time.time() - (time.monotonic() - self.started)

    # faults ------------------------------------------------------------------------------------
    def _inject_faults(self) -> None:
        plan = self.plan
        if plan.continuous:
            kinds = None
        else:
            kinds = [WORKER_KILL] * plan.kills + [WORKER_STOP] * plan.stops + [SUPERVISOR_RESTART] * plan.restarts
            self.rng.shuffle(kinds)
        skipped = 0
        while True:
            if kinds is not None and not kinds:
                break
            if self._all_final():
                skipped = len(kinds) if kinds is not None else 0
                break
            time.sleep(self.rng.uniform(*plan.gap))  # a deliberate pause between two faults
            kind = kinds.pop() if kinds is not None else self.rng.choices(FAULT_KINDS, weights=plan.weights)[0]
            if time.monotonic() > self.deadline - 15:  # leave the daemon time to finish what is left
                skipped += 1 + (len(kinds) if kinds is not None else 0)
                break
            done = {WORKER_KILL: self._kill_worker, WORKER_STOP: self._stop_worker,
                    SUPERVISOR_RESTART: self._restart_supervisor}[kind]()
            if not done:
                skipped += 1
        self.report.figures["faults_skipped"] = skipped

    def _busy_worker(self, limit: float = 3.0) -> Optional[tuple[psutil.Process, list[str]]]:
        """A worker of the current supervisor that holds a running job, and the ids of the jobs it holds.

        Preferably one caught in the middle of a job's work: its job wrote its log line
        and has a few milliseconds of work left, so the fault lands before the outcome
        can be recorded. After `limit` seconds, any worker holding a running job will do."""
        until = time.monotonic() + limit
        while not self._all_final():
            workers = {p.pid: p for p in self._workers()}
            held: dict[int, list[str]] = defaultdict(list)
            mid_job = []
            self.job_log.poll()
            for job in self.queue.list_jobs(status="running", limit=1000):
                daemon, pid = _owner(job.get("worker_id"))
                if daemon != self.daemon_id or pid not in workers:
                    continue
                held[pid].append(job["id"])
                params = job.get("params") or {}
                token, at = self.job_log.last_by_pid.get(pid, (None, 0.0))
                if token == params.get("token") and time.time() - at < params.get("ms", 0) / 1000 - 0.003:
                    mid_job.append(pid)
            if mid_job or (held and time.monotonic() > until):
                pid = self.rng.choice(sorted(mid_job or held))
                return workers[pid], held[pid]
            if time.monotonic() > until + 2:
                return None
            time.sleep(0.002)
        return None

    def _fault_on_busy_worker(self, kind: str, act: Callable[[psutil.Process], None]):
        """Do `act` (kill, suspend) to a worker in the middle of a job and record the
        fault; (process, fault), or None when no worker was busy or it had just gone."""
        found = self._busy_worker()
        if found is None:
            return None
        process, held = found
        token = self.job_log.poll().last_by_pid.get(process.pid, (None,))[0]
        fault = Fault(kind, time.time(), process.pid, self.daemon_id, held, token)
        try:
            act(process)  # psutil refuses if the pid was reused by another process
        except psutil.NoSuchProcess:
            return None
        self.report.faults.append(fault)
        self.echo(_describe_fault(fault, self.started_wall))
        return process, fault

    def _kill_worker(self) -> bool:
        done = self._fault_on_busy_worker(WORKER_KILL, psutil.Process.kill)
        if done is None:
            return False
        process, _ = done
        self._wait(lambda: self.daemon_log.find("worker_died", worker_pid=process.pid),
                   f"the supervisor to see worker {process.pid} die", limit=10)
        return True

    def _stop_worker(self) -> bool:
        plan = self.plan
        done = self._fault_on_busy_worker(WORKER_STOP, psutil.Process.suspend)
        if done is None:
            return False
        process, fault = done
        self.stopped = process
        try:
            hung = self._wait(lambda: self.daemon_log.find("worker_hung", worker_pid=process.pid),
                              f"the supervisor to declare stopped worker {process.pid} hung", limit=15)
            fault.notes["declared_hung_after"] = round(_event_time(hung[0]) - fault.at, 3)
            left = fault.at + plan.stop_seconds - time.time()
            if left > 0:
                time.sleep(left)  # a deliberate pause: the worker stays stopped this long
        finally:
            fault.notes["dead_before_sigcont"] = not _alive(process)
            _quietly(process.resume)
            self.stopped = None
        self._wait(lambda: self.daemon_log.find("worker_died", worker_pid=process.pid),
                   f"the supervisor to see hung worker {process.pid} die", limit=10)
        return True

    def _slow_job_running(self) -> bool:
        return any(_owner(j.get("worker_id"))[0] == self.daemon_id and (j.get("params") or {}).get("ms", 0) >= 100
                   for j in self.queue.list_jobs(status="running", limit=1000))

    def _restart_supervisor(self) -> bool:
        # Prefer a moment when a slow job runs: its worker may then leave in the middle of it,
        # and the next supervisor has to find that job and run it again.
        slow = self._poll_until(self._slow_job_running, limit=3.0)
        old = self.daemon.process
        workers = self._workers()
        held = [j["id"] for j in self.queue.list_jobs(status="running", limit=1000)
                if _owner(j.get("worker_id"))[0] == self.daemon_id]
        fault = Fault(SUPERVISOR_RESTART, time.time(), old.pid, self.daemon_id, held,
                      workers=[p.pid for p in workers], notes={"slow_job_running": bool(slow)})
        old.send_signal(signal.SIGKILL)
        old.wait(timeout=10)
        self.report.faults.append(fault)
        self.echo(_describe_fault(fault, self.started_wall))
        share = self.plan.immediate_restart_share
        if self.plan.continuous:
            immediate = self.rng.random() < share
        else:  # planned: every other restart is immediate when any should be
            immediate = share > 0 and sum(f.kind == SUPERVISOR_RESTART for f in self.report.faults) % 2 == 0
        fault.notes["immediate"] = immediate
        if not immediate:
            orphans = self._daemon_processes()  # the old workers, all of them: no supervisor runs now
            if not self._wait_dead(orphans, 10):
                self.report.violations.append(
                    f"workers {[p.pid for p in orphans if _alive(p)]} of supervisor {old.pid} (killed -9) "
                    f"were still alive 10 s later")
            fault.notes["old_workers_gone_after"] = round(time.time() - fault.at, 3)
        self._start_daemon()
        fault.notes["daemon_up_after"] = round(time.time() - fault.at, 3)
        fault.notes["new_daemon"] = self.daemon_id
        return True

    # the verdict -------------------------------------------------------------------------------
    def analyse(self) -> None:
        """Check every submitted job against the database and the job log; fill in the report."""
        report, figures = self.report, self.report.figures
        tokens, submit_errors = self._read_client_outputs()
        runs = self.job_log.poll().runs
        figures.update(jobs=len(tokens), runs=self.job_log.lines, submit_errors=submit_errors)
        if len(tokens) != self.plan.jobs:
            report.problems.append(f"the clients report {len(tokens)} submitted jobs, not {self.plan.jobs}")
        if self.job_log.malformed:
            report.problems.append(f"malformed job log lines: {self.job_log.malformed[:5]}")
        queue = JobQueue(self.daemon.db)
        try:
            statuses = {job_id: queue.get_status(job_id) for job_id in tokens.values()}
            total = queue.stats().get("total", 0)
        finally:
            queue.close()
        if total != len(tokens):
            report.violations.append(f"the database holds {total} jobs, the clients submitted {len(tokens)}")
        phantom = sorted(set(runs) - set(tokens))
        if phantom:
            report.violations.append(f"{len(phantom)} tokens ran that no client submitted: {phantom[:10]}")

        lost, duplicated, unexplained, not_completed = [], [], [], []
        by_worker: dict[tuple[str, int], list[tuple[str, dict]]] = defaultdict(list)
        execution_statuses: Counter = Counter()
        for token, job_id in sorted(tokens.items()):
            status, job_runs = statuses[job_id], runs.get(token, [])
            where = f"job {job_id} (token {token})"
            if status.get("exists") is False:
                lost.append(f"{where} is not in the database; runs: {job_runs}")
                continue
            executions = status["executions"]
            for execution in executions:
                execution_statuses[execution["status"]] += 1
                by_worker[_owner(execution["worker_id"])].append((token, execution))
            details = _job_details(status, job_runs)
            if status["status"] not in FINAL_STATUSES:
                lost.append(f"{where} is stuck in {status['status']!r}\n{details}")
                continue
            completions = [e for e in executions if e["status"] == "completed"]
            if status["status"] != "completed":
                not_completed.append(f"{where} ended {status['status']!r}: {status['error']}\n{details}")
            completed = status["status"] == "completed"
            if (completed and len(completions) != 1) or (not completed and completions):
                duplicated.append(f"{where} is {status['status']!r} with {len(completions)} completed executions"
                                  f"\n{details}")
            for completion in completions[:1]:
                pids = {pid for pid, _ in job_runs}
                if completion.get("pid") not in pids:
                    report.violations.append(
                        f"{where}: its completed execution names pid {completion.get('pid')}, which never ran it "
                        f"(runs by pids {sorted(pids)})\n{details}")
                result = status.get("result")
                if status["status"] == "completed" and (not isinstance(result, dict) or result.get("token") != token
                                                        or result.get("pid") != completion.get("pid")):
                    report.violations.append(f"{where}: result {result!r} does not match its completed run\n{details}")
            explained = sum(1 for e in executions if e["status"] not in ("completed", "running") and e.get("error"))
            if len(job_runs) - 1 > explained:
                unexplained.append(f"{where} ran {len(job_runs)} times, with {explained} failed executions "
                                   f"explaining the extra runs\n{details}")
        report.violations += [f"LOST: {x}" for x in lost]
        report.violations += [f"COMPLETED TWICE: {x}" for x in duplicated]
        report.violations += [f"UNEXPLAINED RE-RUN: {x}" for x in unexplained]
        report.problems += [f"NOT COMPLETED: {x}" for x in not_completed]
        rerun_counts = [len(runs.get(token, [])) for token in tokens]
        figures.update(
            completed=sum(1 for s in statuses.values() if s.get("status") == "completed"),
            not_completed=len(not_completed),
            lost=len(lost), duplicated_completions=len(duplicated), unexplained_reruns=len(unexplained),
            jobs_rerun=sum(1 for n in rerun_counts if n > 1), extra_runs=sum(max(0, n - 1) for n in rerun_counts),
            never_ran=sum(1 for n in rerun_counts if n == 0),
            executions_by_status=dict(sorted(execution_statuses.items())),
            jobs_per_second=len(tokens) / report.seconds if report.seconds else None,
        )
        for kind in FAULT_KINDS:
            figures[kind] = sum(1 for f in report.faults if f.kind == kind)
        self._fault_latencies(by_worker, runs)

    def _fault_latencies(self, by_worker: dict, runs: dict) -> None:
        """For each fault, its victims (executions of its worker(s) that did not complete) and how
        long each took to run again; the maximum per kind of fault."""
        figures = self.report.figures
        worst: dict[str, Optional[float]] = {WORKER_KILL: None, WORKER_STOP: None, SUPERVISOR_RESTART: None}
        for fault in self.report.faults:
            pids = fault.workers if fault.kind == SUPERVISOR_RESTART else [fault.pid]
            victims = [(token, e) for pid in pids for token, e in by_worker.get((fault.daemon, pid), [])
                       if e["status"] != "completed"]
            delays = []
            for token, execution in victims:
                later = [at for _, at in runs.get(token, []) if at > fault.at]
                if later:
                    delays.append(min(later) - fault.at)
                else:
                    fault.notes.setdefault("victims_not_rerun", []).append(token)
            fault.notes["victims"] = sorted({token for token, _ in victims})
            fault.notes["errors"] = sorted({(e["error"] or "")[:60] for _, e in victims})
            if delays:
                fault.notes["max_rerun_after"] = round(max(delays), 3)
                current = worst[fault.kind]
                worst[fault.kind] = max(delays) if current is None else max(current, max(delays))
        figures.update(max_kill_to_rerun=worst[WORKER_KILL], max_stop_to_rerun=worst[WORKER_STOP],
                       max_restart_to_rerun=worst[SUPERVISOR_RESTART])
        figures["faults_with_victims"] = dict(Counter(f.kind for f in self.report.faults if f.notes["victims"]))
        downtimes = [f.notes["daemon_up_after"] for f in self.report.faults if "daemon_up_after" in f.notes]
        figures["max_restart_downtime"] = max(downtimes) if downtimes else None

    def _read_client_outputs(self) -> tuple[dict[str, str], int]:
        tokens: dict[str, str] = {}
        errors = 0
        for index, path in enumerate(self.client_outputs):
            lines = path.read_text().splitlines() if path.exists() else []
            if not lines or lines[-1] != "#done":
                self.report.problems.append(f"client {index} did not finish submitting ({len(lines)} lines in {path})")
            for line in lines:
                if line.startswith("#"):
                    if line.startswith("#error"):
                        errors += 1
                    if line.startswith("#partial"):
                        self.report.violations.append(f"client {index}: a submit_many stored part of its batch: {line}")
                    continue
                token, job_id = line.split()
                if token in tokens:
                    self.report.problems.append(f"token {token} submitted twice")
                tokens[token] = job_id
        return tokens, errors


# ---------------------------------------------------------------------------------------------
# helpers


def _owner(worker_id: Optional[str]) -> tuple[str, int]:
    """(daemon id prefix, pid) of a worker id "daemon8.slot.pid"."""
    try:
        daemon, _slot, pid = (worker_id or "").split(".")
        return daemon, int(pid)
    except ValueError:
        return "", 0


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except psutil.Error:
        pass


def _event_time(event: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()


def _describe_fault(fault: Fault, origin: float) -> str:
    text = f"t+{fault.at - origin:7.2f}s {fault.kind:<18} pid {fault.pid} (daemon {fault.daemon})"
    if fault.kind == SUPERVISOR_RESTART:
        text += f" workers {fault.workers}, {len(fault.held)} jobs running"
    else:
        text += f" holding {len(fault.held)} running job(s), running token {fault.current_token}"
    if fault.notes:
        text += f" {fault.notes}"
    return text


def _job_details(status: dict, job_runs: list[tuple[int, float]]) -> str:
    lines = [f"    status={status.get('status')} attempts={status.get('attempts')} error={status.get('error')!r}"]
    for e in status.get("executions", []):
        lines.append(f"    execution attempt={e['attempt']} {e['status']} worker={e['worker_id']} pid={e.get('pid')} "
                     f"started={e['started_at']} completed={e['completed_at']} error={e['error']!r}")
    for pid, at in job_runs:
        lines.append(f"    job log: ran in pid {pid} at {at:.6f}")
    return "\n".join(lines)


def run_chaos(folder: Path, plan: Plan, echo: Callable[[str], None] = lambda _: None) -> Report:
    """One chaos run in `folder`; raises ChaosTimeout (with diagnostics) if it cannot finish."""
    return ChaosRun(folder, plan, echo).run()


# ---------------------------------------------------------------------------------------------
# the command line

LONG = dict(jobs=50_000, clients=4, workers=4, continuous=True, gap=(0.2, 1.0), weights=(6, 2, 2), submit_rate=350.0,
            immediate_restart_share=0.3, deadline=570.0, log_level="info")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Chaos run of gigqd: no job lost, none completed twice.")
    parser.add_argument("--long", action="store_true",
                        help="the long run: 50,000 jobs, faults without pause until the end, within ten minutes")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--clients", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--kills", type=int, help="planned worker kills (without --continuous)")
    parser.add_argument("--stops", type=int, help="planned worker stops (without --continuous)")
    parser.add_argument("--restarts", type=int, help="planned supervisor restarts (without --continuous)")
    parser.add_argument("--continuous", action="store_true", default=None,
                        help="inject faults until every job is final")
    parser.add_argument("--rate", type=float, dest="submit_rate", help="jobs submitted per second over all clients")
    parser.add_argument("--immediate", type=float, dest="immediate_restart_share",
                        help="share of restarts made without waiting for the old workers to leave")
    parser.add_argument("--deadline", type=float, help="seconds the whole run may take")
    parser.add_argument("--log-level", choices=["debug", "info"])
    parser.add_argument("--seed", type=int)
    parser.add_argument("--dir", type=Path, help="where to run (kept); default: a temporary folder, kept on failure")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--quiet", action="store_true", help="do not print each fault as it is injected")
    args = parser.parse_args(argv)

    settings: dict[str, Any] = dict(LONG) if args.long else {}
    for name in ("jobs", "clients", "workers", "kills", "stops", "restarts", "continuous", "submit_rate",
                 "immediate_restart_share", "deadline", "log_level", "seed"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    plan = Plan(**settings)
    if plan.seed is None:
        plan.seed = random.randrange(1 << 30)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="gigq-chaos-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on TERM as on Ctrl-C
    if plan.continuous:
        mode = "faults until the end"
    else:
        mode = f"{plan.kills} kills, {plan.stops} stops, {plan.restarts} restarts"
    print(f"chaos: {plan.jobs} jobs, {plan.clients} clients, {plan.workers} workers, {mode}, seed {plan.seed}, "
          f"in {folder}", flush=True)
    echo = (lambda _: None) if args.quiet else (lambda line: print("  " + line, flush=True))
    try:
        report = run_chaos(folder, plan, echo)
    except ChaosTimeout as timeout:
        print(f"FAILED: {timeout}", flush=True)
        print(f"(artifacts kept in {folder})")
        return 2
    print(report.table(), flush=True)
    if args.json:
        args.json.write_text(report.to_json())
    if report.ok and args.dir is None:
        shutil.rmtree(folder, ignore_errors=True)
    elif not report.ok:
        print(f"(artifacts kept in {folder})")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
