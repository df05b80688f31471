"""Store contract: dependencies gate readiness; a dead dependency cancels everything downstream."""

from __future__ import annotations

import pytest

from gigq_client import UnknownDependency
from tests.store.helpers import claim_one, completed, failed, new_job


def test_job_is_ready_only_when_every_dependency_completed(store):
    a, b = new_job("a"), new_job("b")
    c = new_job("c", dependencies=[a.id, b.id])
    store.enqueue([a, b, c])
    first = store.claim("w", None, 10)
    assert sorted(j.name for j in first) == ["a", "b"]
    store.finish([completed(first[0])])
    assert store.claim("w", None, 10) == []
    store.finish([completed(first[1])])
    assert claim_one(store).name == "c"


def test_children_may_be_listed_before_their_parents_in_one_batch(store):
    parent = new_job("parent")
    child = new_job("child", dependencies=[parent.id])
    store.enqueue([child, parent])
    assert [j.name for j in store.claim("w", None, 10)] == ["parent"]


def test_dependency_on_an_already_completed_job_is_ready_at_once(store):
    parent = new_job("parent")
    store.enqueue([parent])
    store.finish([completed(claim_one(store))])
    store.enqueue([new_job("child", dependencies=[parent.id])])
    assert claim_one(store).name == "child"


def test_unknown_dependency_is_refused_and_nothing_is_stored(store):
    good = new_job("good")
    bad = new_job("bad", dependencies=["no-such-id"])
    with pytest.raises(UnknownDependency, match="no-such-id") as raised:
        store.enqueue([good, bad])
    assert isinstance(raised.value, ValueError)
    assert store.stats()["total"] == 0


def test_dependency_cycle_is_refused(store):
    a, b = new_job("a"), new_job("b")
    a = a.__class__(**{**a.__dict__, "dependencies": (b.id,)})
    b = b.__class__(**{**b.__dict__, "dependencies": (a.id,)})
    with pytest.raises(UnknownDependency, match="cycle"):
        store.enqueue([a, b])
    assert store.stats()["total"] == 0


def test_failure_cascades_to_every_job_downstream(store):
    root = new_job("root", max_attempts=1)
    child = new_job("child", dependencies=[root.id])
    grandchild = new_job("grandchild", dependencies=[child.id])
    other = new_job("other")
    store.enqueue([root, child, grandchild, other])
    for job in store.claim("w", None, 10):
        store.finish([failed(job, "exploded") if job.name == "root" else completed(job)])
    for job_id in (child.id, grandchild.id):
        row = store.get_job(job_id)
        assert row["status"] == "cancelled"
        assert root.id in row["error"] and "root" in row["error"] and "failed" in row["error"]
    assert store.get_job(other.id)["status"] == "completed"
    assert store.claim("w", None, 10) == []


def test_submitting_after_a_dependency_failed_cancels_at_once(store):
    root = new_job("root", max_attempts=1)
    store.enqueue([root])
    store.finish([failed(claim_one(store))])
    late = new_job("late", dependencies=[root.id])
    store.enqueue([late])
    row = store.get_job(late.id)
    assert row["status"] == "cancelled" and root.id in row["error"]


def test_cancelling_a_pending_job_cancels_its_dependents(store):
    root = new_job("root")
    child = new_job("child", dependencies=[root.id])
    store.enqueue([root, child])
    assert store.cancel(root.id) is True
    assert store.get_job(child.id)["status"] == "cancelled"
    assert store.cancel(root.id) is False


def test_requeueing_a_failed_dependency_revives_what_it_took_down(store):
    root = new_job("root", max_attempts=1)
    child = new_job("child", dependencies=[root.id])
    store.enqueue([root, child])
    store.finish([failed(claim_one(store))])
    assert store.requeue_job(child.id) is False  # would wait forever on a failed parent
    assert store.requeue_job(root.id) is True
    child_row = store.get_job(child.id)
    assert (child_row["status"], child_row["error"]) == ("pending", None)
    store.finish([completed(claim_one(store))])
    assert claim_one(store).name == "child"


def test_parent_results_come_in_dependency_order(store):
    a, b = new_job("a"), new_job("b")
    store.enqueue([a, b])
    for job in store.claim("w", None, 2):
        store.finish([completed(job, '"A"' if job.name == "a" else '"B"')])
    assert list(store.parent_results([b.id, a.id]).items()) == [(b.id, "B"), (a.id, "A")]


def test_requeue_does_not_revive_a_job_that_still_waits_on_another_dead_job(store):
    first, second = new_job("first"), new_job("second")
    both = new_job("both", dependencies=[first.id, second.id])
    store.enqueue([first, second, both])
    store.cancel(first.id)
    store.cancel(second.id)
    assert store.requeue_job(first.id) is True
    row = store.get_job(both.id)
    assert row["status"] == "cancelled" and second.id in row["error"]
    assert store.requeue_job(second.id) is True
    assert store.get_job(both.id)["status"] == "pending"


def test_requeue_revives_a_job_submitted_below_a_job_its_cascade_took_down(store):
    root = new_job("root")
    middle = new_job("middle", dependencies=[root.id])
    store.enqueue([root, middle])
    store.cancel(root.id)
    late = new_job("late", dependencies=[middle.id])  # cancelled at once: its parent is dead
    store.enqueue([late])
    assert store.get_job(late.id)["status"] == "cancelled"
    assert store.requeue_job(root.id) is True
    assert [store.get_job(job.id)["status"] for job in (root, middle, late)] == ["pending"] * 3


@pytest.mark.parametrize("first", [0, 1])
def test_a_job_below_two_dead_jobs_runs_again_once_both_are_requeued(store, first):
    # bottom waits on left and right; left also waits on dead[1], right on dead[0]. Requeueing
    # top brings left and right back, each cancelled again on its other dead parent's account.
    top, dead = new_job("top"), [new_job("dead0"), new_job("dead1")]
    left = new_job("left", dependencies=[top.id, dead[1].id])
    right = new_job("right", dependencies=[top.id, dead[0].id])
    bottom = new_job("bottom", dependencies=[left.id, right.id])
    store.enqueue([top, *dead, left, right, bottom])
    for job in (top, *dead):
        assert store.cancel(job.id) is True
    assert store.requeue_job(top.id) is True
    assert [store.get_job(job.id)["status"] for job in (left, right, bottom)] == ["cancelled"] * 3
    assert store.requeue_job(dead[first].id) is True
    assert store.get_job(bottom.id)["status"] == "cancelled"  # the other one is still dead
    assert store.requeue_job(dead[1 - first].id) is True
    assert [store.get_job(job.id)["status"] for job in (left, right, bottom)] == ["pending"] * 3
