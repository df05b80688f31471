"""A chaos run's plan, its faults and its report (the figures and what went wrong)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

WORKER_KILL, WORKER_STOP, SUPERVISOR_RESTART = "worker_kill", "worker_stop", "supervisor_restart"
FAULT_KINDS = (WORKER_KILL, WORKER_STOP, SUPERVISOR_RESTART)


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
            ("jobs whose body finished twice", f.get("finished_twice")),
            ("  of those, NOT explained by a kill right after it", f.get("finished_twice_unexplained")),
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



def describe_fault(fault: Fault, origin: float) -> str:
    text = f"t+{fault.at - origin:7.2f}s {fault.kind:<18} pid {fault.pid} (daemon {fault.daemon})"
    if fault.kind == SUPERVISOR_RESTART:
        text += f" workers {fault.workers}, {len(fault.held)} jobs running"
    else:
        text += f" holding {len(fault.held)} running job(s), running token {fault.current_token}"
    if fault.notes:
        text += f" {fault.notes}"
    return text

