"""How many jobs a worker claims at once, and when its claim may have left jobs for others."""

from __future__ import annotations

import pytest

from gigqd.worker.runner import claim_size, may_have_left_jobs


@pytest.mark.parametrize("average, expected", [(0.00001, 32), (0.005, 20), (0.01, 10), (0.1, 1), (5.0, 1)])
def test_claim_size_holds_at_most_about_100_ms_of_work(average, expected):
    assert claim_size(average, batch_max=32) == expected


@pytest.mark.parametrize("claimed, limit, share, expected", [
    (0, 1, 2, False),   # found nothing: nothing was left
    (1, 1, 1, True),    # took all it asked for: more may be ready
    (1, 1, 2, True),
    (5, 5, 2, True),
    (3, 10, 1, False),  # asked for more than were ready, alone: took them all
    (3, 10, 2, True),   # a fair share of a short queue: the rest is for the others
    (1, 10, 2, True),   # one job of a fair share: maybe all there was, maybe not
])
def test_a_claim_may_have_left_jobs_when_it_was_full_or_a_fair_share(claimed, limit, share, expected):
    assert may_have_left_jobs(claimed, limit, share) is expected
