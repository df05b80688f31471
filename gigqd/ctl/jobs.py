"""gigqctl's job commands: GigQ's CLI (submit, list, status, cancel, requeue, clear, stats, worker) and wait."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta
from typing import Any, Optional

from gigq_client import Job, JobQueue, JobStatus, Worker
from gigq_client.functions import parse_reference, resolve
from gigq_client.jobs import FINAL_STATUSES

from . import output
from .daemon import CtlError, Target, call

SPINNER = "|/-\\"


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """key=value pairs; a value that parses as JSON is taken as JSON, else as a string (as GigQ did)."""
    params = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise CtlError(f"--param {pair!r} is not of the form key=value")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


def submit(job_queue: JobQueue, function: str, name: Optional[str], params: dict[str, Any], **options: Any) -> str:
    module, attribute = parse_reference(function)
    try:
        resolve(module, attribute)  # fail here, clearly, rather than in a worker later
    except Exception as error:
        raise CtlError(f"cannot import {module}:{attribute}: {type(error).__name__}: {error}") from None
    job = Job(name=name or attribute, function=f"{module}:{attribute}", params=params, **options)
    return job_queue.submit(job)


def show_status(queue: JobQueue, job_id: str, as_json: bool, **show: bool) -> str:
    status = queue.get_status(job_id)
    if not status["exists"]:
        raise CtlError(f"no job {job_id} in {queue.db_path}")
    if as_json:
        return json.dumps(status, indent=2, default=str)
    return output.job_status(status, show["params"], show["result"], show["executions"])


def list_jobs(queue: JobQueue, status: Optional[str], limit: int, queue_name: Optional[str], as_json: bool) -> str:
    if status is not None and status not in {s.value for s in JobStatus}:
        raise CtlError(f"invalid status {status!r}; valid statuses: {', '.join(s.value for s in JobStatus)}")
    jobs = queue.list_jobs(status=status, limit=limit, queue=queue_name)
    if as_json:
        return json.dumps(jobs, indent=2, default=str)
    if not jobs:
        return "No jobs found."
    rows = [(j["id"], j["name"], j["status"], j["priority"], j["queue"], output.when(j["created_at"]),
             output.when(j["updated_at"])) for j in jobs]
    return output.table(rows, ["ID", "Name", "Status", "Priority", "Queue", "Created", "Updated"])


def cancel(queue: JobQueue, target: Target, job_id: str, timeout: float) -> str:
    """A pending job is cancelled here; a running one is stopped by the daemon running it."""
    if queue.cancel(job_id):
        return f"Job {job_id} cancelled."
    status = queue.get_status(job_id)
    if not status["exists"]:
        raise CtlError(f"no job {job_id} in {queue.db_path}")
    if status["status"] != JobStatus.RUNNING:
        raise CtlError(f"could not cancel job {job_id}: it is {status['status']}")
    queue.cancel_running(job_id)
    call(target, "cancel", job_id=job_id)
    final = queue.wait(job_id, timeout=timeout)
    if final["status"] != JobStatus.CANCELLED:
        raise CtlError(f"job {job_id} ended {final['status']} before it could be cancelled")
    return f"Job {job_id} cancelled (it was running; the daemon stopped it)."


def clear(queue: JobQueue, before_days: Optional[float]) -> str:
    before = (datetime.now() - timedelta(days=before_days)).isoformat() if before_days is not None else None
    return f"Cleared {queue.clear_completed(before_timestamp=before)} completed jobs."


def stats(queue: JobQueue, as_json: bool) -> str:
    counts = queue.stats()
    if as_json:
        return json.dumps(counts)
    return output.table([(s.value, counts[s.value]) for s in JobStatus] + [("total", counts["total"])],
                            ["Status", "Count"])


def wait(queue: JobQueue, job_id: str, timeout: Optional[float]) -> tuple[bool, str]:
    """Wait for a final state, showing progress on a terminal; (completed?, final line)."""
    if not queue.get_status(job_id)["exists"]:
        raise CtlError(f"no job {job_id} in {queue.db_path}")
    started, tick = time.monotonic(), 0
    interactive = sys.stderr.isatty()
    while True:
        status = queue.get_status(job_id)
        if status["status"] in FINAL_STATUSES:
            break
        elapsed = time.monotonic() - started
        if timeout is not None and elapsed > timeout:
            raise CtlError(f"job {job_id} is still {status['status']} after {timeout:g} s")
        if interactive:
            sys.stderr.write(f"\r{SPINNER[tick % 4]} {status['name']} {status['status']} "
                             f"(attempt {status['attempts']}/{status['max_attempts']}) {elapsed:5.1f}s ")
            sys.stderr.flush()
        tick += 1
        time.sleep(0.1)
    if interactive:
        sys.stderr.write("\r" + " " * 70 + "\r")
    line = f"{status['name']} {status['status']}"
    if status["status"] == JobStatus.COMPLETED:
        line += f": {json.dumps(status['result'], default=str)}"
    elif status.get("error"):
        line += f": {status['error']}"
    return status["status"] == JobStatus.COMPLETED, line


def run_worker(db: str, once: bool, worker_id: Optional[str], polling_interval: float, concurrency: int) -> str:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    worker = Worker(db, worker_id=worker_id, polling_interval=polling_interval, concurrency=concurrency)
    if once:
        return "Processed one job." if worker.process_one() else "No jobs available to process."
    print(f"Starting worker {worker.worker_id}...", flush=True)
    worker.start()
    return "Worker stopped."
