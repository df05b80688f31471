"""The worker's job loop when the store fails under it: nothing held is dropped or stuck."""

from __future__ import annotations

import pytest

from gigq_client import DatabaseUnavailable
from gigq_client.execute import Executor
from gigqd.worker.runner import JobRunner
from tests.store.helpers import new_job


class AnswerLost:
    """The real store, whose next finish_and_claim commits and then fails to answer,
    as when a connection drops between the server's commit and its reply."""

    def __init__(self, real):
        self.real, self.lose_next = real, True

    def finish_and_claim(self, *args, **kwargs):
        answer = self.real.finish_and_claim(*args, **kwargs)
        if self.lose_next:
            self.lose_next = False
            raise DatabaseUnavailable("lost the connection (injected after the commit)")
        return answer

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_claim_whose_answer_was_lost_is_given_back_unspent_by_the_next_claim(store):
    """The worker's next claim finds the jobs running under its name and releases them."""
    store.enqueue([new_job(f"j{i}") for i in range(3)])
    runner = JobRunner(AnswerLost(store), "w1", None, Executor(["tests"], 1000, store.parent_results), batch_max=3)
    with pytest.raises(DatabaseUnavailable):
        runner.claim(limit=2)
    assert store.stats()["running"] == 2  # claimed in the database, unknown to the worker
    assert runner.claim(limit=3) == 3  # released first, then claimed again, with nothing spent
    assert sorted(job.claim.attempt for job in runner.batch) == [1, 1, 1]
