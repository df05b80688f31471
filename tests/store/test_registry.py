"""Store contract: the registry of daemons and workers, and paused queues."""

from __future__ import annotations

import pytest

from gigq_client.store import DaemonInfo
from tests.store.helpers import claim_one, new_job


def _daemon(daemon_id: str, started_at: float = 1.0) -> DaemonInfo:
    return DaemonInfo(id=daemon_id, host="host-a", pid=7, pid_started=2.0, started_at=started_at, heartbeat_at=3.0,
                      socket_path="/run/gigqd.sock", doorbell_path="@bell", queues="a,b", extra={"version": "1"},
                      machine="boot:ns")


def test_registered_daemons_come_back_oldest_first_with_every_field(store):
    store.register_daemon(_daemon("late", started_at=20.0))
    store.register_daemon(_daemon("early", started_at=10.0), lease=30.0)
    assert [d.id for d in store.daemons()] == ["early", "late"]
    early = store.daemons()[0]
    # heartbeat and lease come from the store's clock, whatever the caller says
    assert early == DaemonInfo(**{**_daemon("early", started_at=10.0).__dict__, "heartbeat_at": early.heartbeat_at,
                                  "lease_until": early.lease_until})
    assert early.lease_until - early.heartbeat_at == pytest.approx(30.0, abs=0.01)


def test_the_cluster_view_counts_each_daemons_running_jobs_and_knows_whose_lease_ran_out(store):
    store.register_daemon(_daemon("busy"), lease=60.0)
    store.register_daemon(_daemon("gone", started_at=2.0), lease=0.0)
    store.register_worker("w1", "busy", "host-a", 10, 1.0)
    store.enqueue([new_job("x"), new_job("y")])
    claim_one(store, "w1")
    summaries = {s.info.id: s for s in store.daemon_summaries()}
    assert (summaries["busy"].jobs_running, summaries["busy"].lease_expired) == (1, False)
    assert (summaries["gone"].jobs_running, summaries["gone"].lease_expired) == (0, True)
    assert 0 <= summaries["busy"].heartbeat_age < 60


def test_registering_a_daemon_again_replaces_its_record(store):
    store.register_daemon(_daemon("d1"))
    store.register_daemon(DaemonInfo(**{**_daemon("d1").__dict__, "pid": 99}))
    assert [(d.id, d.pid) for d in store.daemons()] == [("d1", 99)]


def test_deregistering_keeps_workers_that_still_hold_a_job(store):
    store.register_daemon(_daemon("d1"))
    store.register_worker("busy", "d1", "host-a", 10, 1.0)
    store.register_worker("idle", "d1", "host-a", 11, 1.0)
    store.enqueue([new_job("x")])
    claim_one(store, "busy")
    store.deregister_daemon("d1")
    store.deregister_daemon("d1")  # idempotent
    assert store.daemons() == []
    (running,) = store.running_claims()
    assert (running.claim.worker_id, running.pid, running.daemon_id) == ("busy", 10, None)


def test_a_dead_worker_is_forgotten_only_once_it_holds_no_running_job(store):
    store.register_daemon(_daemon("d1"))
    store.register_worker("w1", "d1", "host-a", 10, 1.0)
    store.enqueue([new_job("x")])
    claimed = claim_one(store, "w1")
    store.forget_worker("w1")
    assert store.running_claims()[0].pid == 10  # still known: its job is running
    store.requeue_orphans(lambda running: "died")
    store.forget_worker("w1")
    store.forget_worker("w1")  # idempotent
    store.enqueue([new_job("y")])
    claim_one(store, "w1")
    assert [r.host for r in store.running_claims() if r.claim.worker_id == "w1"] == [None]
    assert claimed.claim.attempt == 1


def test_paused_queues_are_listed_sorted_and_resuming_twice_reports_it(store):
    assert store.paused_queues() == []
    store.pause_queue("b")
    store.pause_queue("a")
    store.pause_queue("a")  # idempotent
    assert store.paused_queues() == ["a", "b"]
    assert store.resume_queue("a") is True
    assert store.resume_queue("a") is False
    assert store.paused_queues() == ["b"]


def test_pausing_every_queue_stops_every_claim(store):
    store.enqueue([new_job("a1", queue="a"), new_job("d1")])
    store.pause_queue("*")
    assert store.paused_queues() == ["*"]
    assert store.claim("w", None, 5) == [] and store.claim("w", ["a"], 5) == []
    assert store.resume_queue("*") is True
    assert sorted(j.name for j in store.claim("w", None, 5)) == ["a1", "d1"]
