"""Decoding stored rows into records, defensively: a row written by hand with wrong
types must fail its own job with a reason, never crash the process reading it."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Optional

from ..functions import _MODULE, _NAME
from . import history
from .base import Claim, ClaimedJob, RunningClaim

FLAGS = {None: None, 1: True, 0: False}  # pass_parent_results as stored -> as given
JOB_COLUMNS = (
    "id", "name", "function_name", "function_module", "params", "priority", "dependencies",
    "max_attempts", "timeout", "description", "status", "created_at", "updated_at", "attempts",
    "result", "error", "started_at", "completed_at", "worker_id", "pass_parent_results",
    "retry_delay", "retry_after", "queue", "run_at",
)
_CLAIM_COLUMNS = (
    "id, attempts, name, function_module, function_name, params, timeout, max_attempts, "
    "retry_delay, dependencies, pass_parent_results, queue, priority, rowid"
)


def number(value: Any, default: float, minimum: float = 0.0) -> tuple[float, Optional[str]]:
    """(a usable number, or the default and what was wrong with the stored value)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= minimum:
        return value, None
    if value is None:
        return default, None
    return default, f"{value!r} is not a number of at least {minimum:g}"


def claimed_job(row: tuple, worker_id: str) -> ClaimedJob:
    (job_id, attempt, name, module, function, params, timeout, max_attempts,
     retry_delay, dependencies, pass_parent_results, queue, priority, _rowid) = row
    problems: list[str] = []
    timeout = _field("timeout", number(timeout, 300, 0.001), problems)
    max_attempts = int(_field("max_attempts", number(max_attempts, 1, 1), problems))
    retry_delay = _field("retry_delay", number(retry_delay, 0), problems)
    priority = int(_field("priority", number(priority, 0, -math.inf), problems))
    if not (isinstance(module, str) and _MODULE.match(module) and isinstance(function, str) and _NAME.match(function)):
        problems.append(f"function {module!r}:{function!r} is not a valid 'module:function' reference")
    if not isinstance(params, str):
        problems.append(f"params {params!r} are not JSON text")
        params = "{}"
    parents = _dependencies(dependencies, problems)
    return ClaimedJob(
        claim=Claim(job_id, attempt, worker_id), name=str(name), module=str(module), function=str(function),
        params=params, timeout=timeout, max_attempts=max_attempts, retry_delay=retry_delay, dependencies=parents,
        pass_parent_results=FLAGS.get(pass_parent_results), queue=str(queue), priority=priority,
        defect="; ".join(problems) or None,
    )


def _field(label: str, decoded: tuple[float, Optional[str]], problems: list[str]) -> float:
    value, problem = decoded
    if problem:
        problems.append(f"{label} {problem}")
    return value


def _dependencies(text: Any, problems: list[str]) -> tuple[str, ...]:
    if text is None or text == "[]":
        return ()
    try:
        parents = json.loads(text)
    except (TypeError, ValueError):
        problems.append(f"dependencies {text!r} are not a JSON list")
        return ()
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        problems.append(f"dependencies {text!r} are not a list of job ids")
        return ()
    return tuple(parents)


def running_claim(row: tuple) -> RunningClaim:
    (job_id, attempt, worker_id, started_at, timeout, host, pid, pid_started,
     daemon_id, heartbeat, machine, expired) = row
    return RunningClaim(
        claim=Claim(job_id, attempt, worker_id),
        started_at=epoch(started_at), timeout=number(timeout, 300, 0.001)[0],
        host=host if isinstance(host, str) else None, pid=pid if isinstance(pid, int) else None,
        pid_started=number(pid_started, 0)[0] if pid_started is not None else None, daemon_id=daemon_id,
        daemon_heartbeat=number(heartbeat, 0)[0] if heartbeat is not None else None,
        machine=machine if isinstance(machine, str) and machine else None,
        lease_expired=None if expired is None else bool(expired),
    )


def epoch(text: Any) -> float:
    if not isinstance(text, str) or not text:
        return 0.0
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


def loads(text: Optional[str]) -> Any:
    """JSON from a column; text that is not JSON (a hand-written row) is returned as is."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def job_dict(row: tuple) -> dict[str, Any]:
    job = dict(zip(JOB_COLUMNS, row))
    job["exists"] = True
    job["params"] = loads(job["params"]) or {}
    job["dependencies"] = loads(job["dependencies"]) or []
    job["result"] = loads(job["result"])
    job["pass_parent_results"] = FLAGS.get(job["pass_parent_results"])
    job["function"] = f"{job['function_module']}:{job['function_name']}"
    return job


def execution_dict(row: tuple) -> dict[str, Any]:
    execution = dict(zip(history.COLUMNS, row))
    execution["result"] = loads(execution["result"])
    return execution
