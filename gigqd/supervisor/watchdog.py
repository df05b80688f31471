"""Pure decisions for the supervisor: what to kill, what to requeue, when to respawn.

Nothing here sends a signal or touches the database; supervisor.py acts on the
answers. Each function takes what it needs as plain values, so it is tested with tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from gigq_client.store import Claim

from ..board import BOOTING, FINISHED, HELD, IDLE, STARTED, SlotView
from ..exits import Exit, WorkerExit

TIMEOUT, HUNG, SHUTDOWN, CANCEL, FENCED = "timeout", "hung", "shutdown", "cancel", "fenced"
IDLE_WAIT = 1.0  # seconds the loop sleeps with nothing to watch (signals and sockets wake it)
BUSY_WAIT = 0.1  # while a job runs: timeouts are seen within this
SETTLING_WAIT = 0.01  # while a dead worker's leftover processes are dying
QUICK_ORPHAN_RECHECK = 1.0
ORPHAN_GRACE_AFTER_START = 120.0
# A SIGKILLed process dies at once unless it sleeps in the kernel (a hung NFS mount,
# a device): after this long its worker's claims are settled anyway, and it is logged.
LEFTOVER_PATIENCE = 60.0
FENCE_SAFETY = 1.0  # seconds kept between the last moment a fenced job can be alive and its lease's end


@dataclass(frozen=True)
class Kill:
    """Stop a worker (and its job's processes) for `reason`; `claim` is the job it was running."""

    slot: int
    reason: str
    detail: str
    claim: Optional[Claim] = None


def overdue(slot: int, view: SlotView, worker_id: str, now: float, heartbeat_timeout: float) -> Optional[Kill]:
    """A running job past its timeout, or a worker whose heartbeat went silent."""
    job = view.running_job
    if job is not None and view.started > 0 and now - view.started > view.timeout:
        return Kill(slot, TIMEOUT, f"job ran past its timeout of {view.timeout:g} s",
                    Claim(job.job_id, job.attempt, worker_id))
    silent = now - view.heartbeat
    if silent > heartbeat_timeout:
        claim = Claim(job.job_id, job.attempt, worker_id) if job is not None else None
        return Kill(slot, HUNG, f"worker sent no heartbeat for {silent:.1f} s (limit {heartbeat_timeout:g} s)", claim)
    return None


@dataclass(frozen=True)
class DeathPlan:
    """What to record for the claims a dead worker held."""

    fail: tuple[Claim, ...]  # ran, or may have: spend the attempt, say why
    release: tuple[Claim, ...]  # never started: back to pending, attempt untouched
    interrupted: tuple[Claim, ...]  # stopped by the operator: back to pending, attempt untouched, recorded


def plan_for_dead_worker(held_in_store: Iterable[Claim], view: SlotView, shutdown: bool) -> DeathPlan:
    """Sort a dead worker's claims. When the board cannot vouch that a job never
    started, it is failed (attempt spent, reason recorded) rather than released."""
    phases = {(h.job_id, h.attempt): h.phase for h in view.held} if view.consistent else {}
    fail, release, interrupted = [], [], []
    for claim in held_in_store:
        phase = phases.get((claim.job_id, claim.attempt))
        if phase == HELD:
            release.append(claim)
        elif shutdown and phase in (STARTED, FINISHED):
            interrupted.append(claim)
        else:
            fail.append(claim)
    return DeathPlan(tuple(fail), tuple(release), tuple(interrupted))


def sigkill_due(term_sent_at: float, now: float, kill_grace: float) -> bool:
    """The second step of a kill: TERM (with CONT) went out kill_grace ago and the worker is still there."""
    return now - term_sent_at >= kill_grace


def counts_as_boot_failure(ended: Exit, state_at_end: int, killed: bool, retiring: bool) -> bool:
    """A worker that died before it finished booting, on its own: the slot backs off."""
    return ended.code == WorkerExit.BOOT_FAILED or (state_at_end == BOOTING and not killed and not retiring)


def end_event(ended: Exit, killed: bool) -> str:
    """worker_exited for a planned exit between jobs, worker_died for anything else."""
    return "worker_exited" if ended.planned and not killed else "worker_died"


def orphan_check_delay(waiting_on_exit: int, uptime: float, interval: float) -> float:
    """Look again within a second while a dead daemon's workers on this host are still
    finishing their jobs (only in our first two minutes, when that is expected)."""
    return QUICK_ORPHAN_RECHECK if waiting_on_exit and uptime < ORPHAN_GRACE_AFTER_START else interval


def fence_margin(kill_grace: float, heartbeat_interval: float) -> float:
    """How long before its lease runs out a daemon starts stopping its jobs: TERM, then
    KILL after kill_grace; the workers' own backstop a heartbeat later; a heartbeat of
    slack for the thread that checks; and FENCE_SAFETY."""
    return kill_grace + 2 * heartbeat_interval + FENCE_SAFETY


def fence_at(renewal_sent: float, lease: float, kill_grace: float, heartbeat_interval: float) -> float:
    """Monotonic time from which no job of ours may run, after the last renewal that the
    store confirmed, timed from before it was sent: the store's lease ends no earlier
    than `lease` seconds after that (clocks run at the same rate; see docs/reliability.md)."""
    return renewal_sent + lease - fence_margin(kill_grace, heartbeat_interval)


def lease_retry_delay(lease: float) -> float:
    """A renewal failed: try again soon, several times before the fence."""
    return min(1.0, lease / 20)


def leftovers_overdue(since: float, now: float) -> bool:
    return now - since > LEFTOVER_PATIENCE


def tick_wait(watching: bool, settling: bool, respawn_in: Optional[float]) -> float:
    """How long the loop may sleep: briefly while it watches a job's clock, a kill or a
    stop; at once for a dead worker's leftovers; never past a respawn that is due."""
    wait = SETTLING_WAIT if settling else BUSY_WAIT if watching else IDLE_WAIT
    return wait if respawn_in is None else min(wait, max(0.0, respawn_in))


def respawn_delay(failures: int, maximum: float) -> float:
    """Back off a slot whose workers keep dying at start: 0, 0.5, 1, 2, 4 ... seconds."""
    if failures <= 0:
        return 0.0
    return min(maximum, 0.5 * 2 ** (failures - 1))


def hears_wake_ups(state: int) -> bool:
    """Whom a wake-up for new jobs goes to: an idle worker, and one still booting. A
    booting worker's first claim may have looked before the job was committed, and it
    sets itself idle only after that claim; the word waits in its pipe until it waits."""
    return state in (BOOTING, IDLE)


def pick_to_retire(views: dict[int, SlotView]) -> Optional[int]:
    """The slot to stop when shrinking: an idle worker if there is one, else the newest."""
    if not views:
        return None
    idle = [slot for slot, view in views.items() if view.state == IDLE]
    return max(idle) if idle else max(views)
