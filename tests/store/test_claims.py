"""Store contract: claiming, fenced finishing, retries, release and orphan recovery."""

from __future__ import annotations

import time

from gigq_client.store import TIMEOUT, Claim, DaemonInfo
from tests.conftest import wait_for
from tests.store.helpers import claim_one, completed, failed, new_job


def test_claim_hands_out_higher_priority_first_then_submission_order(store):
    low, mid = new_job("low", priority=-5), new_job("mid")
    high_a, high_b = new_job("a", priority=10), new_job("b", priority=10)
    store.enqueue([low, high_a, high_b, mid])
    order = [job.name for job in store.claim("w", None, 10)]
    assert order == ["a", "b", "mid", "low"]


def test_claim_gives_each_job_to_one_claimer_only(store):
    store.enqueue([new_job(f"j{i}") for i in range(5)])
    first = store.claim("w1", None, 3)
    second = store.claim("w2", None, 3)
    assert len(first) == 3 and len(second) == 2
    assert not {j.job_id for j in first} & {j.job_id for j in second}
    assert store.claim("w3", None, 3) == []


def test_claim_marks_job_running_and_opens_an_execution(store):
    job = new_job("x")
    store.enqueue([job])
    claimed = claim_one(store, "w1")
    assert claimed.claim == Claim(job.id, 1, "w1")
    row = store.get_job(job.id)
    assert (row["status"], row["attempts"], row["worker_id"]) == ("running", 1, "w1")
    assert [e["status"] for e in row["executions"]] == ["running"]


def test_complete_records_result_and_execution(store):
    store.enqueue([new_job("x")])
    claimed = claim_one(store)
    assert store.finish([completed(claimed, '{"n": 3}')]) == [True]
    row = store.get_job(claimed.job_id)
    assert row["status"] == "completed" and row["result"] == {"n": 3} and row["worker_id"] is None
    runs = [(e["status"], e["attempt"], e["worker_id"], e["pid"]) for e in row["executions"]]
    assert runs == [("completed", 1, "w1", 1)]


def test_late_complete_after_requeue_is_refused(store):
    store.enqueue([new_job("x")])
    first = claim_one(store, "w1")
    requeued = store.requeue_orphans(lambda running: "worker died")
    assert [claim for claim, _ in requeued] == [first.claim]
    second = claim_one(store, "w2")
    assert second.claim.attempt == 2
    assert store.finish([completed(first, '"late"')]) == [False]
    assert store.finish([failed(first, "late failure")]) == [False]
    assert store.get_job(first.job_id)["status"] == "running"
    assert store.finish([completed(second, '"fresh"')]) == [True]
    assert store.get_job(first.job_id)["result"] == "fresh"


def test_finishing_twice_applies_once(store):
    store.enqueue([new_job("x")])
    claimed = claim_one(store)
    assert store.finish([completed(claimed), completed(claimed)]) == [True, False]


def test_failure_is_retried_until_attempts_run_out(store):
    store.enqueue([new_job("x", max_attempts=2)])
    first = claim_one(store)
    assert store.finish([failed(first, "first")]) == [True]
    row = store.get_job(first.job_id)
    assert (row["status"], row["error"], row["attempts"]) == ("pending", "first", 1)
    second = claim_one(store)
    assert second.claim.attempt == 2
    store.finish([failed(second, "second")])
    row = store.get_job(first.job_id)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "second", 2)
    assert [e["status"] for e in row["executions"]] == ["failed", "failed"]
    assert store.claim("w", None, 1) == []


def test_non_retryable_failure_ends_the_job_at_once(store):
    store.enqueue([new_job("x", max_attempts=5)])
    claimed = claim_one(store)
    store.finish([failed(claimed, "result is not JSON", retryable=False)])
    assert store.get_job(claimed.job_id)["status"] == "failed"


def test_timeout_without_attempts_left_ends_timeout(store):
    store.enqueue([new_job("x", max_attempts=1)])
    claimed = claim_one(store)
    store.finish([failed(claimed, "timed out after 1 s", status=TIMEOUT)])
    row = store.get_job(claimed.job_id)
    assert row["status"] == "timeout" and row["executions"][0]["status"] == "timeout"


def test_retry_waits_for_its_backoff(store):
    store.enqueue([new_job("x", max_attempts=3, retry_delay=0.3)])
    claimed = claim_one(store)
    failed_at = time.time()
    store.finish([failed(claimed)])
    assert store.claim("w", None, 1) == []
    due = store.next_due()
    assert due is not None and 0.25 <= due - failed_at <= 0.5
    again = wait_for(lambda: store.claim("w", None, 1), timeout=5, what="retry to become ready")
    assert time.time() - failed_at >= 0.3 and again[0].claim.attempt == 2


def test_run_at_holds_a_job_until_its_time(store):
    later = new_job("later", run_at=time.time() + 0.3)
    store.enqueue([later, new_job("now")])
    assert [j.name for j in store.claim("w", None, 5)] == ["now"]
    assert wait_for(lambda: store.claim("w", None, 5), timeout=5)[0].name == "later"


def test_release_gives_the_job_back_without_spending_an_attempt(store):
    store.enqueue([new_job("x", max_attempts=1)])
    claimed = claim_one(store)
    assert store.release([claimed.claim]) == 1
    row = store.get_job(claimed.job_id)
    assert (row["status"], row["attempts"], row["executions"]) == ("pending", 0, [])
    assert claim_one(store, "w2").claim.attempt == 1
    assert store.release([claimed.claim]) == 0  # w1's fence no longer holds


def test_a_held_job_whose_cancel_was_asked_for_is_cancelled_when_released(store):
    parent = new_job("parent")
    child = new_job("child", dependencies=[parent.id])
    store.enqueue([parent, child])
    claimed = claim_one(store)
    assert store.request_cancel(claimed.job_id) is True
    assert store.release([claimed.claim]) == 1
    row = store.get_job(claimed.job_id)
    assert (row["status"], row["attempts"], row["error"]) == ("cancelled", 0, "cancelled by request before it started")
    assert store.get_job(child.id)["status"] == "cancelled"  # the dependent went with it
    assert store.cancel_requests() == []


def test_orphan_requeue_spends_the_attempt_and_fails_when_none_remain(store):
    store.enqueue([new_job("x", max_attempts=1)])
    claimed = claim_one(store)
    store.requeue_orphans(lambda running: f"worker {running.claim.worker_id} died")
    row = store.get_job(claimed.job_id)
    assert row["status"] == "failed" and row["error"] == "worker w1 died"
    assert row["executions"][0]["error"] == "worker w1 died"


def test_orphan_judge_sees_the_owner_and_its_lease_by_the_stores_clock(store):
    store.register_daemon(DaemonInfo(**{**_daemon("d1").__dict__, "machine": "boot:ns"}), lease=60.0)
    store.register_worker("w1", "d1", "host-a", 4242, 123.0)
    store.enqueue([new_job("x")])
    claim_one(store, "w1")
    seen = []
    store.requeue_orphans(lambda running: seen.append(running) and None)
    (running,) = seen
    assert (running.host, running.pid, running.pid_started, running.daemon_id) == ("host-a", 4242, 123.0, "d1")
    assert (running.machine, running.lease_expired) == ("boot:ns", False)
    assert store.renew_lease("d1", 0.0) is True  # a lease of no time at all: over at once
    assert store.running_claims()[0].lease_expired is True
    assert store.renew_lease("nobody", 10.0) is False
    assert store.get_job(running.claim.job_id)["status"] == "running"


def test_named_queues_are_claimed_only_by_those_serving_them(store):
    store.enqueue([new_job("a1", queue="a"), new_job("b1", queue="b", priority=5), new_job("c1", queue="c")])
    assert [j.name for j in store.claim("w", ["a"], 5)] == ["a1"]
    assert [j.name for j in store.claim("w", ["c", "b"], 5)] == ["b1", "c1"]


def test_paused_queue_is_not_claimed_until_resumed(store):
    store.enqueue([new_job("a1", queue="a"), new_job("b1", queue="b")])
    store.pause_queue("a")
    assert [j.name for j in store.claim("w", None, 5)] == ["b1"]
    assert store.claim("w", ["a"], 5) == []
    assert store.resume_queue("a") is True
    assert [j.name for j in store.claim("w", ["a"], 5)] == ["a1"]


def test_finish_and_claim_is_one_step(store):
    store.enqueue([new_job("a"), new_job("b")])
    first = claim_one(store)
    applied, more = store.finish_and_claim([completed(first)], "w1", None, 5)
    assert applied == [True] and [j.name for j in more] == ["b"]


def test_a_shared_claim_takes_only_its_part_of_a_short_queue(store):
    store.enqueue([new_job(f"j{i}") for i in range(9)])
    _, first = store.finish_and_claim([], "w1", None, 32, share=2)
    _, second = store.finish_and_claim([], "w2", None, 32, share=2)
    _, third = store.finish_and_claim([], "w3", None, 32, share=2)
    assert [len(first), len(second), len(third)] == [5, 2, 1]  # ceil(9/2), ceil(4/2), the last one


def test_a_shared_claim_takes_a_full_batch_from_a_deep_queue(store):
    store.enqueue([new_job(f"j{i}") for i in range(100)])
    _, deep = store.finish_and_claim([], "w1", None, 32, share=2)
    _, alone = store.finish_and_claim([], "w2", None, 100)
    assert len(deep) == 32 and len(alone) == 68


def test_cancel_request_of_a_running_job_is_flagged_then_applied(store):
    store.enqueue([new_job("x")])
    claimed = claim_one(store)
    assert store.cancel(claimed.job_id) is False
    assert store.request_cancel(claimed.job_id) is True
    assert store.cancel_requests() == [claimed.claim]
    assert store.cancel_running(claimed.claim, "cancelled by request", time.time(), time.time()) is True
    row = store.get_job(claimed.job_id)
    assert row["status"] == "cancelled" and row["executions"][0]["status"] == "cancelled"
    assert store.cancel_requests() == []


def _daemon(daemon_id: str):
    return DaemonInfo(id=daemon_id, host="host-a", pid=1, pid_started=1.0, started_at=1.0, heartbeat_at=50.0)


def test_release_with_a_reason_keeps_the_interrupted_run_on_record(store):
    store.enqueue([new_job("x", max_attempts=1)])
    claimed = claim_one(store)
    assert store.release([claimed.claim], reason="daemon stopped") == 1
    row = store.get_job(claimed.job_id)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert [(e["status"], e["error"]) for e in row["executions"]] == [("interrupted", "daemon stopped")]

