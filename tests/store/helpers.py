"""Small builders for store contract tests."""

from __future__ import annotations

import time
import uuid

from gigq_client.store import COMPLETED, FAILED, ClaimedJob, NewJob, Outcome


def new_job(name: str = "job", **fields) -> NewJob:
    fields.setdefault("module", "tests.jobfuncs")
    fields.setdefault("function", "noop")
    fields.setdefault("params", "{}")
    if "dependencies" in fields:
        fields["dependencies"] = tuple(fields["dependencies"])
    return NewJob(id=str(uuid.uuid4()), name=name, **fields)


def completed(job: ClaimedJob, result: str = "null") -> Outcome:
    now = time.time()
    return Outcome(job.claim, COMPLETED, started=now, finished=now, result=result, pid=1)


def failed(job: ClaimedJob, error: str = "boom", retryable: bool = True, status: str = FAILED) -> Outcome:
    now = time.time()
    return Outcome(job.claim, status, started=now, finished=now, error=error, retryable=retryable, pid=1)


def claim_one(store, worker: str = "w1", queues=None) -> ClaimedJob:
    claimed = store.claim(worker, queues, 1)
    assert len(claimed) == 1, f"expected one ready job, got {len(claimed)}"
    return claimed[0]
