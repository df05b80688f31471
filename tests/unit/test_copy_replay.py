"""PostgreSQL's submit_many makes jobs while COPY streams them, and can replay them after a deadlock."""

from __future__ import annotations

from gigq_client.store.postgres.submit import _Replayable


def _counting(count: int, made: list):
    for i in range(count):
        made.append(i)
        yield i


def test_a_second_pass_after_a_broken_first_yields_the_same_jobs_making_each_once():
    made: list = []
    jobs = _Replayable(_counting(5, made))
    assert jobs.peek(2) == [0, 1]
    first_pass = iter(jobs)
    assert [next(first_pass) for _ in range(3)] == [0, 1, 2]  # the transaction broke here
    assert list(jobs) == [0, 1, 2, 3, 4]
    assert made == [0, 1, 2, 3, 4] and jobs.seen == [0, 1, 2, 3, 4]


def test_peek_at_fewer_jobs_than_asked_for():
    jobs = _Replayable(_counting(1, []))
    assert jobs.peek(2) == [0] and jobs.peek(2) == [0] and list(jobs) == [0]
    assert _Replayable([]).peek(2) == []
