"""What the supervisor does when a worker has ended: clean up its processes, record its claims."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import psutil

from gigq_client import GigqError
from gigq_client.store import FAILED, TIMEOUT, Outcome, Store

from . import watchdog
from ..board import SlotView
from .children import Child, Exit


def kill_leftovers(child: Child, worker_pids: set[int]) -> int:
    """SIGKILL what the dead worker's job left behind: its process group, the processes
    seen in its tree, and any orphan we adopted as subreaper. Waits until they are gone,
    so nothing of the old run is alive when the job is handed out again."""
    killed = 0
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(3):  # an adopted orphan's own children are re-parented to us as it dies
        leftovers = adopted(worker_pids) + [p for p in child.tree if p.is_running()]
        if not leftovers:
            break
        for process in leftovers:
            try:
                process.kill()
                killed += 1
            except psutil.Error:
                pass
        psutil.wait_procs(leftovers, timeout=2)
    return killed


def adopted(worker_pids: set[int]) -> list[psutil.Process]:
    """Our children that are not workers: processes of jobs, re-parented to us."""
    try:
        return [p for p in psutil.Process().children() if p.pid not in worker_pids and p.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []


def kill_quietly(process: psutil.Process) -> None:
    try:
        process.kill()
        process.wait(timeout=2)
    except psutil.Error:
        pass


def record_claims(store: Store, child: Child, view: SlotView, ended: Exit, shutdown: bool, log: Any) -> None:
    """Settle every claim the worker still held: fail, release or mark interrupted."""
    held = [r.claim for r in store.running_claims() if r.claim.worker_id == child.worker_id]
    if not held:
        return
    now = time.time()
    started = _wall_clock(view.started, now)
    kill = child.kill
    outcomes = []
    if kill is not None and kill.reason == watchdog.TIMEOUT and kill.claim in held:
        held.remove(kill.claim)
        outcomes.append(Outcome(kill.claim, TIMEOUT, started, now, error=f"Timeout: {kill.detail}; killed"))
        log.warning("job_timed_out", job_id=kill.claim.job_id, attempt=kill.claim.attempt, worker_id=child.worker_id)
    if kill is not None and kill.reason == watchdog.CANCEL and kill.claim in held:
        held.remove(kill.claim)
        store.cancel_running(kill.claim, "cancelled by request while running; killed", started, now)
        log.info("job_cancelled", job_id=kill.claim.job_id, attempt=kill.claim.attempt, worker_id=child.worker_id)
    plan = watchdog.plan_for_dead_worker(held, view, shutdown or (kill is not None and kill.reason == watchdog.SHUTDOWN))
    reason = _death_reason(child, ended)
    for claim in plan.fail:
        outcomes.append(Outcome(claim, FAILED, started, now, error=reason))
        log.warning("job_failed", job_id=claim.job_id, attempt=claim.attempt, worker_id=child.worker_id, error=reason)
    store.finish(outcomes)
    if plan.release:
        store.release(plan.release)
    if plan.interrupted:
        store.release(plan.interrupted, reason=f"interrupted: the daemon stopped while it ran ({ended.text})")
        for claim in plan.interrupted:
            log.info("job_released", job_id=claim.job_id, attempt=claim.attempt, worker_id=child.worker_id)


def _death_reason(child: Child, ended: Exit) -> str:
    if child.kill is not None and child.kill.reason == watchdog.HUNG:
        return f"WorkerHung: {child.kill.detail}; killed"
    return f"WorkerDied: worker pid {child.pid} {ended.text} while holding this job"


def _wall_clock(monotonic_started: float, now: float) -> float:
    if monotonic_started <= 0:
        return now
    return now - (time.monotonic() - monotonic_started)


def settle(store: Store, child: Child, view: SlotView, ended: Exit, shutdown: bool, log: Any) -> None:
    """record_claims, but a store failure is logged, not raised: the periodic orphan
    check requeues whatever could not be recorded now (the worker is provably dead)."""
    try:
        record_claims(store, child, view, ended, shutdown, log)
        store.forget_worker(child.worker_id)
    except GigqError as error:
        log.error("job_outcome_refused", worker_id=child.worker_id, error=str(error))

