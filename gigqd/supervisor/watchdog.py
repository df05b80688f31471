"""Pure decisions for the supervisor: what to kill, what to requeue, when to respawn.

Nothing here sends a signal or touches the database; supervisor.py acts on the
answers. Each function takes what it needs as plain values, so it is tested with tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

# A pure decision like the rest, kept below gigqd so that gigq_client.Worker judges orphans alike.
from gigq_client.orphans import OrphanJudge  # noqa: F401
from gigq_client.store import Claim

from ..board import FINISHED, HELD, IDLE, STARTED, SlotView

TIMEOUT, HUNG, SHUTDOWN, CANCEL = "timeout", "hung", "shutdown", "cancel"


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


def respawn_delay(failures: int, maximum: float) -> float:
    """Back off a slot whose workers keep dying at start: 0, 0.5, 1, 2, 4 ... seconds."""
    if failures <= 0:
        return 0.0
    return min(maximum, 0.5 * 2 ** (failures - 1))


def pick_to_retire(views: dict[int, SlotView]) -> Optional[int]:
    """The slot to stop when shrinking: an idle worker if there is one, else the newest."""
    if not views:
        return None
    idle = [slot for slot, view in views.items() if view.state == IDLE]
    return max(idle) if idle else max(views)
