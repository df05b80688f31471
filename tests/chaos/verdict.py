"""The verdict of a chaos run: every submitted job checked against the database and the job log."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Optional

from gigq_client import JobQueue
from gigq_client.jobs import FINAL_STATUSES

from .processes import owner
from .report import FAULT_KINDS, SUPERVISOR_RESTART, WORKER_KILL, WORKER_STOP


class Verdict:
    """The checking half of ChaosRun (tests/chaos/chaos.py), run once every job is final."""

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
                by_worker[owner(execution["worker_id"])].append((token, execution))
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
            for completion in completions if len(completions) == 1 else []:  # two are reported above
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
        self._finished_twice(tokens, statuses)
        self._fault_latencies(by_worker, runs)

    def _finished_twice(self, tokens: dict[str, str], statuses: dict[str, dict]) -> None:
        """Bodies that finished more than once (their side effects done twice). Each
        finish before the last is explained only if its worker was killed (by the
        driver, or by the watchdog as hung) before it started another job: the one
        moment, between a job's end and its commit, when the outcome it has can be lost."""
        report, ends = self.report, self.job_log.ends
        twice = [token for token in tokens if len(ends.get(token, [])) > 1]
        unexplained = []
        for token in twice:
            status = statuses[tokens[token]]
            for pid, finished in ends[token][:-1]:
                if not self._killed_right_after(pid, finished, status):
                    unexplained.append(f"job {tokens[token]} (token {token}): its body finished in pid {pid} at "
                                       f"{finished:.6f} and again later, and that worker was not killed before "
                                       f"its next job\n{_job_details(status, self.job_log.runs[token])}")
                    break
        report.violations += [f"FINISHED TWICE: {x}" for x in unexplained]
        report.figures.update(finished_twice=len(twice), finished_twice_unexplained=len(unexplained))

    def _killed_right_after(self, pid: int, finished: float, status: dict) -> bool:
        if self.job_log.started_between(pid, finished, float("inf")):
            return False  # it went on to another job: this outcome should have been committed first
        faulted = any(f.kind in (WORKER_KILL, WORKER_STOP) and f.pid == pid and f.at >= finished
                      for f in self.report.faults)
        killed = any(owner(e["worker_id"])[1] == pid and (e["error"] or "").startswith(("WorkerDied", "WorkerHung"))
                     for e in status["executions"])
        return faulted or killed

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
            for token, _ in victims:
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



def _job_details(status: dict, job_runs: list[tuple[int, float]]) -> str:
    lines = [f"    status={status.get('status')} attempts={status.get('attempts')} error={status.get('error')!r}"]
    for e in status.get("executions", []):
        lines.append(f"    execution attempt={e['attempt']} {e['status']} worker={e['worker_id']} pid={e.get('pid')} "
                     f"started={e['started_at']} completed={e['completed_at']} error={e['error']!r}")
    for pid, at in job_runs:
        lines.append(f"    job log: ran in pid {pid} at {at:.6f}")
    return "\n".join(lines)

