"""Injecting faults into a running daemon: kill -9 or SIGSTOP a busy worker, kill -9 and restart the supervisor."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from typing import Callable, Optional

import psutil

from .processes import alive, event_time, owner, quietly
from .report import FAULT_KINDS, SUPERVISOR_RESTART, WORKER_KILL, WORKER_STOP, Fault, describe_fault


class FaultInjection:
    """The fault half of ChaosRun (tests/chaos/chaos.py), which supplies the daemon, the logs and waiting."""

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
                daemon, pid = owner(job.get("worker_id"))
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
        self.echo(describe_fault(fault, self.started_wall))
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
            fault.notes["declared_hung_after"] = round(event_time(hung[0]) - fault.at, 3)
            left = fault.at + plan.stop_seconds - time.time()
            if left > 0:
                time.sleep(left)  # a deliberate pause: the worker stays stopped this long
        finally:
            fault.notes["dead_before_sigcont"] = not alive(process)
            quietly(process.resume)
            self.stopped = None
        self._wait(lambda: self.daemon_log.find("worker_died", worker_pid=process.pid),
                   f"the supervisor to see hung worker {process.pid} die", limit=10)
        return True

    def _slow_job_running(self) -> bool:
        return any(owner(j.get("worker_id"))[0] == self.daemon_id and (j.get("params") or {}).get("ms", 0) >= 100
                   for j in self.queue.list_jobs(status="running", limit=1000))

    def _restart_supervisor(self) -> bool:
        # Prefer a moment when a slow job runs: its worker may then leave in the middle of it,
        # and the next supervisor has to find that job and run it again.
        slow = self._poll_until(self._slow_job_running, limit=3.0)
        old = self.daemon.process
        workers = self._workers()
        held = [j["id"] for j in self.queue.list_jobs(status="running", limit=1000)
                if owner(j.get("worker_id"))[0] == self.daemon_id]
        fault = Fault(SUPERVISOR_RESTART, time.time(), old.pid, self.daemon_id, held,
                      workers=[p.pid for p in workers], notes={"slow_job_running": bool(slow)})
        old.send_signal(signal.SIGKILL)
        old.wait(timeout=10)
        self.report.faults.append(fault)
        self.echo(describe_fault(fault, self.started_wall))
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
                    f"workers {[p.pid for p in orphans if alive(p)]} of supervisor {old.pid} (killed -9) "
                    f"were still alive 10 s later")
            fault.notes["old_workers_gone_after"] = round(time.time() - fault.at, 3)
        self._start_daemon()
        fault.notes["daemon_up_after"] = round(time.time() - fault.at, 3)
        fault.notes["new_daemon"] = self.daemon_id
        return True

