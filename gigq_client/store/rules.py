"""Decisions every backend makes the same way, in plain Python, before or after its SQL."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from ..errors import UnknownDependency
from .base import FAILED, Claim, NewJob, OrphanJudge, Outcome

if TYPE_CHECKING:
    from .base import Store

REQUEUEABLE = ("failed", "timeout", "cancelled")
DEAD = REQUEUEABLE  # a job downstream of one of these can never run


def refuse_cycles(jobs: Sequence[NewJob]) -> None:
    """Kahn's algorithm over the batch: whatever cannot be ordered is on a cycle."""
    parents = {job.id: set(job.dependencies) for job in jobs}
    children: dict[str, list[str]] = {}
    waiting = {}
    for job_id, deps in parents.items():
        inside = [p for p in deps if p in parents]
        waiting[job_id] = len(inside)
        for parent in inside:
            children.setdefault(parent, []).append(job_id)
    ready = [job_id for job_id, count in waiting.items() if count == 0]
    while ready:
        for child in children.get(ready.pop(), ()):
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    stuck = [job.name for job in jobs if waiting[job.id] > 0]
    if stuck:
        raise UnknownDependency(f"jobs {stuck!r} form a dependency cycle; nothing was submitted")


def unknown_dependency(job_name: str, parent_id: str) -> UnknownDependency:
    return UnknownDependency(f"job {job_name!r} depends on unknown job id {parent_id!r}; nothing was submitted")


def dead_parent_reason(parent_id: str, parent_name: str, status: str) -> str:
    """The error a job cancelled by its dependency's end carries."""
    return f"dependency {parent_id} ({parent_name}) ended {status}"


def first_of_each_claim(outcomes: Sequence[Outcome]) -> list[bool]:
    """Per outcome, whether it is the first given for its claim (later ones never apply)."""
    firsts: dict[Claim, int] = {}
    for index, outcome in enumerate(outcomes):
        firsts.setdefault(outcome.claim, index)
    return [firsts[outcome.claim] == index for index, outcome in enumerate(outcomes)]


def requeue_orphans(store: "Store", judge: OrphanJudge) -> list[tuple[Claim, str]]:
    """Store.requeue_orphans by its other operations: judge every running claim, fail the dead ones."""
    now = time.time()
    # In job id order: two daemons requeuing the same dead daemon's jobs at once lock
    # the rows in the same order, and neither waits for a deadlock to be detected.
    dead = sorted(((running, reason) for running in store.running_claims() if (reason := judge(running))),
                  key=lambda pair: pair[0].claim.job_id)
    outcomes = [Outcome(running.claim, FAILED, started=running.started_at, finished=now, error=reason)
                for running, reason in dead]
    applied = store.finish(outcomes)
    return [(running.claim, reason) for (running, reason), ok in zip(dead, applied) if ok]
