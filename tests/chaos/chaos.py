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
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

import psutil

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gigq_client import JobQueue  # noqa: E402
from gigq_client.jobs import FINAL_STATUSES  # noqa: E402
from tests.chaos.faults import FaultInjection  # noqa: E402
from tests.chaos.logs import DaemonLog, JobLog  # noqa: E402
from tests.chaos.report import (  # noqa: E402,F401
    FAULT_KINDS,
    SUPERVISOR_RESTART,
    WORKER_KILL,
    WORKER_STOP,
    ChaosTimeout,
    Fault,
    Plan,
    Report,
    describe_fault,
)
from tests.chaos.tracking import ProcessTracking  # noqa: E402
from tests.chaos.verdict import Verdict  # noqa: E402
from tests.integration.daemon import Daemon  # noqa: E402

DAEMON_SETTINGS = dict(heartbeat_timeout=1.0, heartbeat_interval=0.2, kill_grace=0.5, orphan_check_interval=1.0,
                       poll_interval=1.0)


# ---------------------------------------------------------------------------------------------
# the run


class ChaosRun(FaultInjection, ProcessTracking, Verdict):
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
        return all(client.poll() is not None for client in self.clients)

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
        parts += [f"  {describe_fault(f, self.started_wall)}" for f in self.report.faults]
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
