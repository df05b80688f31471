"""A property-based test: random sequences of operations on the real store, checked against a model.

Operations: submit (with dependencies), claim, complete, fail, cancel, requeue,
release, a worker crash, and late finishes by stale claims. After every step
the store must agree with the model on every job's status and attempts, claims
must hand out exactly the jobs the model says are ready, in order, and no
completion may ever be recorded twice. It runs once per backend: each example
gets a fresh store from the `make_store` fixture.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from gigq_client.store import COMPLETED, FAILED, Claim, Outcome, Store
from tests.store.helpers import new_job

DEAD = ("failed", "timeout", "cancelled")


@dataclass
class ModelJob:
    seq: int
    priority: int
    max_attempts: int
    parents: list[str]
    status: str = "pending"
    attempts: int = 0
    worker: str | None = None
    cancelled_by: str | None = None
    completions: int = 0
    children: list[str] = field(default_factory=list)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self, store: Store):
        super().__init__()
        self.store = store
        self.jobs: dict[str, ModelJob] = {}
        self.claims: list[Claim] = []  # every claim ever handed out, stale ones included

    def teardown(self):
        self.store.close()

    # the model ------------------------------------------------------------
    def ready(self) -> list[str]:
        ready = [job_id for job_id, job in self.jobs.items()
                 if job.status == "pending" and all(self.jobs[p].status == "completed" for p in job.parents)]
        return sorted(ready, key=lambda job_id: (-self.jobs[job_id].priority, self.jobs[job_id].seq))

    def current(self, claim: Claim) -> bool:
        job = self.jobs[claim.job_id]
        return job.status == "running" and job.attempts == claim.attempt and job.worker == claim.worker_id

    def owner(self, dead: str) -> str:
        """Whose requeue brings back what `dead`'s end cancels: the job whose own end started it."""
        return self.jobs[dead].cancelled_by or dead

    def cascade(self, root: str, owner: str) -> None:
        for child in self.jobs[root].children:
            job = self.jobs[child]
            if job.status == "pending":
                job.status, job.cancelled_by = "cancelled", owner
            self.cascade(child, owner)

    def revive(self, root: str, origin: str) -> None:
        for child in self.jobs[root].children:
            job = self.jobs[child]
            if job.status == "cancelled" and job.cancelled_by == origin:
                job.status, job.attempts, job.cancelled_by = "pending", 0, None
            self.revive(child, origin)

    # rules ------------------------------------------------------------------
    @rule(priority=st.integers(-2, 2), max_attempts=st.integers(1, 3),
          parent_picks=st.lists(st.integers(0, 50), max_size=2))
    def submit(self, priority, max_attempts, parent_picks):
        ids = list(self.jobs)
        parents = sorted({ids[i % len(ids)] for i in parent_picks}) if ids else []
        job = new_job("j", priority=priority, max_attempts=max_attempts, dependencies=parents)
        self.store.enqueue([job])
        model = ModelJob(len(self.jobs), priority, max_attempts, parents)
        self.jobs[job.id] = model
        for parent in parents:
            self.jobs[parent].children.append(job.id)
        dead = [p for p in parents if self.jobs[p].status in DEAD]
        if dead:
            model.status, model.cancelled_by = "cancelled", self.owner(dead[0])

    @rule(worker=st.sampled_from(["w1", "w2"]), limit=st.integers(1, 3))
    def claim(self, worker, limit):
        expected = self.ready()[:limit]
        got = self.store.claim(worker, None, limit)
        assert [j.job_id for j in got] == expected
        for job in got:
            model = self.jobs[job.job_id]
            model.status, model.attempts, model.worker = "running", model.attempts + 1, worker
            assert job.claim.attempt == model.attempts
            self.claims.append(job.claim)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10_000), succeed=st.booleans(), retryable=st.booleans())
    def finish(self, pick, succeed, retryable):
        claim = self.claims[pick % len(self.claims)]
        now = time.time()
        outcome = (Outcome(claim, COMPLETED, now, now, result="1") if succeed
                   else Outcome(claim, FAILED, now, now, error="boom", retryable=retryable))
        should_apply = self.current(claim)
        assert self.store.finish([outcome]) == [should_apply]
        if not should_apply:
            return
        job = self.jobs[claim.job_id]
        job.worker = None
        if succeed:
            job.status, job.completions = "completed", job.completions + 1
        elif retryable and job.attempts < job.max_attempts:
            job.status = "pending"
        else:
            job.status = "failed"
            self.cascade(claim.job_id, claim.job_id)

    @precondition(lambda self: self.claims)
    @rule(pick=st.integers(0, 10_000))
    def release(self, pick):
        claim = self.claims[pick % len(self.claims)]
        should_apply = self.current(claim)
        assert self.store.release([claim]) == int(should_apply)
        if should_apply:
            job = self.jobs[claim.job_id]
            job.status, job.attempts, job.worker = "pending", job.attempts - 1, None

    @rule(worker=st.sampled_from(["w1", "w2"]))
    def crash(self, worker):
        self.store.requeue_orphans(lambda running: "died" if running.claim.worker_id == worker else None)
        for job_id, job in self.jobs.items():
            if job.status == "running" and job.worker == worker:
                job.worker = None
                if job.attempts < job.max_attempts:
                    job.status = "pending"
                else:
                    job.status = "failed"
                    self.cascade(job_id, job_id)

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10_000))
    def cancel(self, pick):
        job_id = list(self.jobs)[pick % len(self.jobs)]
        should_apply = self.jobs[job_id].status == "pending"
        assert self.store.cancel(job_id) is should_apply
        if should_apply:
            self.jobs[job_id].status = "cancelled"
            self.cascade(job_id, job_id)

    @precondition(lambda self: self.jobs)
    @rule(pick=st.integers(0, 10_000))
    def requeue(self, pick):
        job_id = list(self.jobs)[pick % len(self.jobs)]
        job = self.jobs[job_id]
        should_apply = job.status in DEAD and not any(self.jobs[p].status in DEAD for p in job.parents)
        assert self.store.requeue_job(job_id) is should_apply
        if should_apply:
            job.status, job.attempts, job.cancelled_by, job.worker = "pending", 0, None, None
            self.revive(job_id, job_id)
            # revived, but waits on another dead job: cancelled again, the dead parents in id order
            dead = {p for other in self.jobs.values() if other.status == "pending"
                    for p in other.parents if self.jobs[p].status in DEAD}
            for parent in sorted(dead):
                self.cascade(parent, self.owner(parent))

    # invariants ----------------------------------------------------------------
    @invariant()
    def store_agrees_with_the_model(self):
        for job_id, job in self.jobs.items():
            row = self.store.get_job(job_id)
            assert (row["status"], row["attempts"]) == (job.status, job.attempts), job_id
            done = [e for e in row["executions"] if e["status"] == "completed"]
            assert len(done) == job.completions <= 1
            assert row["attempts"] <= job.max_attempts

    @invariant()
    def nothing_runs_before_its_parents_completed(self):
        for job in self.jobs.values():
            if job.status in ("running", "completed"):
                assert all(self.jobs[p].status == "completed" for p in job.parents)

    @invariant()
    def a_cascade_is_owned_by_a_dead_job_above(self):
        for job in self.jobs.values():
            if job.cancelled_by is not None:
                owner = self.jobs[job.cancelled_by]
                assert job.status == "cancelled" and owner.status in DEAD and owner.cancelled_by is None
                assert any(self.jobs[p].status in DEAD for p in job.parents)

    @invariant()
    def nothing_waits_on_a_dead_parent(self):
        for job in self.jobs.values():
            if job.status == "pending":
                assert not any(self.jobs[p].status in DEAD for p in job.parents)


SETTINGS = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_store_matches_its_model(make_store):
    run_state_machine_as_test(lambda: StoreMachine(make_store()), settings=SETTINGS)
