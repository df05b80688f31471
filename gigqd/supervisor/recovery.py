"""What the supervisor does when a worker has ended: clean up its processes, record its claims."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from gigq_client import GigqError
from gigq_client.store import FAILED, TIMEOUT, Outcome, Store

from ..board import SlotView
from ..exits import Exit
from . import watchdog
from .children import Child


@dataclass
class Departure:
    """A reaped worker whose claims wait until every process its job left has died,
    so that nothing of the old run is alive when the job is handed out again."""

    child: Child
    view: SlotView  # the board as the worker left it, read after waitpid()
    ended: Exit
    leftovers: list[psutil.Process] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)


def begin_departure(child: Child, view: SlotView, ended: Exit) -> Departure:
    """SIGKILL the dead worker's process group and every process seen in its tree."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    departure = Departure(child, view, ended, list(child.tree))
    _kill_all(departure.leftovers)
    return departure


def still_running(departure: Departure, adopted_now: list[psutil.Process]) -> bool:
    """Kill what is left of the departed worker's job, without waiting: True while any
    of it still runs. `adopted_now` are the orphans we adopted as subreaper (see
    adopted()); their own children are re-parented to us as they die, so each look
    may find new ones."""
    alive = [p for p in [*departure.leftovers, *adopted_now] if _running(p)]
    _kill_all(alive)
    departure.leftovers = alive
    return bool(alive)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_all(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()  # psutil checks the start time: a reused pid is left alone
        except psutil.Error:
            pass


def adopted(worker_pids: set[int]) -> list[psutil.Process]:
    """Our children that are not workers: processes of jobs, re-parented to us."""
    try:
        return [p for p in psutil.Process().children()
                if p.pid not in worker_pids and p.status() != psutil.STATUS_ZOMBIE]
    except psutil.Error:
        return []


def kill_quietly(process: psutil.Process) -> None:
    """SIGKILL without waiting: the loop reaps it like any child."""
    try:
        process.kill()
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
    stopped_for_shutdown = kill is not None and kill.reason == watchdog.SHUTDOWN
    plan = watchdog.plan_for_dead_worker(held, view, shutdown or stopped_for_shutdown)
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

