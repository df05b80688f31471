"""The watchdog's decisions, as tables: no processes, no database."""

from __future__ import annotations

import pytest

from gigq_client.orphans import OrphanJudge
from gigq_client.store import Claim, RunningClaim
from gigqd.board import BOOTING, EMPTY, FINISHED, HELD, IDLE, RUNNING, STARTED, STOPPING, HeldJob, SlotView
from gigqd.exits import Exit, WorkerExit, describe
from gigqd.supervisor import watchdog


def view(state=RUNNING, heartbeat=100.0, started=90.0, timeout=5.0, held=(), current=-1, consistent=True):
    return SlotView(pid=1, state=state, heartbeat=heartbeat, started=started, timeout=timeout, jobs_done=0,
                    job_name="j", held=tuple(held), current=current, consistent=consistent)


JOB = HeldJob("job-1", 2, STARTED)


@pytest.mark.parametrize(
    "slot_view, now, expected",
    [
        (view(held=[JOB], current=0, started=90, timeout=5), 94.9, None),
        (view(held=[JOB], current=0, started=90, timeout=5), 95.1, watchdog.TIMEOUT),
        (view(held=[JOB], current=0, started=90, timeout=50, heartbeat=60), 95, watchdog.HUNG),
        (view(state=IDLE, started=0, heartbeat=60), 95, watchdog.HUNG),
        (view(state=IDLE, started=0, heartbeat=94), 95, None),
    ],
)
def test_overdue(slot_view, now, expected):
    kill = watchdog.overdue(3, slot_view, "w", now, heartbeat_timeout=30)
    assert (kill.reason if kill else None) == expected
    if kill and slot_view.running_job:
        assert kill.claim == Claim("job-1", 2, "w")


def claims(*ids):
    return [Claim(job_id, 1, "w") for job_id in ids]


@pytest.mark.parametrize(
    "phases, consistent, shutdown, fail, release, interrupted",
    [
        ({"a": HELD, "b": STARTED, "c": FINISHED}, True, False, {"b", "c"}, {"a"}, set()),
        ({"a": HELD, "b": STARTED}, True, True, set(), {"a"}, {"b"}),
        ({"a": HELD}, False, False, {"a", "x"}, set(), set()),  # an unreadable board proves nothing
        ({}, True, False, {"x"}, set(), set()),  # claimed, not yet on the board: may have started
    ],
)
def test_plan_for_dead_worker(phases, consistent, shutdown, fail, release, interrupted):
    held = [HeldJob(job_id, 1, phase) for job_id, phase in phases.items()]
    plan = watchdog.plan_for_dead_worker(claims(*phases, "x") if "x" in fail else claims(*phases),
                                         view(held=held, consistent=consistent), shutdown)
    assert {c.job_id for c in plan.fail} == fail
    assert {c.job_id for c in plan.release} == release
    assert {c.job_id for c in plan.interrupted} == interrupted


def running(host="there", pid=10, started=5.0, heartbeat=100.0, worker="w", job_started=50.0, timeout=30.0,
            machine="boot-a:pidns-1", expired=False):
    return RunningClaim(Claim("j", 1, worker), job_started, timeout, host, pid, started, "d", heartbeat, machine,
                        expired)


OTHER_MACHINE = "boot-b:pidns-9"


@pytest.mark.parametrize(
    "claim, alive, expected",
    [
        (running(), True, None),  # on this machine, alive
        (running(), False, "no longer running"),  # on this machine, its pid is gone
        (running(host="here"), False, "no longer running"),  # the hostname does not matter, the machine does
        (running(machine=OTHER_MACHINE), False, None),  # elsewhere, a pid proves nothing: its lease holds
        (running(machine=OTHER_MACHINE, expired=True), True, "lease of daemon d on there ran out"),
        (running(machine=OTHER_MACHINE, expired=None), True, "no longer registered"),
        (running(machine=None, expired=False), False, None),  # a daemon that did not say where it runs
        (running(host=None, pid=None, started=None, heartbeat=None, job_started=10, timeout=20), True, "unknown"),
        (running(host=None, pid=None, started=None, heartbeat=None, job_started=75, timeout=20), True, None),
        (running(worker="mine"), False, None),
    ],
)
def test_orphan_judge(claim, alive, expected):
    judge = OrphanJudge("boot-a:pidns-1", lambda pid, started: alive, now=100.0, lease=10.0, own_workers={"mine"})
    reason = judge(claim)
    assert (reason is None) if expected is None else (expected in reason)


def test_a_long_job_elsewhere_is_never_rescued_while_its_daemon_renews_its_lease():
    judge = OrphanJudge("boot-a:pidns-1", lambda pid, started: False, now=10_000_000.0, lease=10.0)
    assert judge(running(machine=OTHER_MACHINE, job_started=0.0, timeout=1.0, expired=False)) is None


def test_pid_reuse_is_not_mistaken_for_the_owner():
    seen = []
    judge = OrphanJudge("boot-a:pidns-1", lambda pid, started: seen.append((pid, started)) or False, 100.0, 10.0)
    assert judge(running(pid=10, started=5.0)) is not None
    assert seen == [(10, 5.0)]  # liveness is asked with the start time, not the pid alone


@pytest.mark.parametrize("sent, lease, grace, beat, fence",
                         [(100.0, 20.0, 5.0, 1.0, 112.0), (0.0, 60.0, 0.0, 0.5, 58.0)])
def test_the_fence_leaves_time_to_stop_every_job_before_the_lease_can_run_out(sent, lease, grace, beat, fence):
    assert watchdog.fence_at(sent, lease, grace, beat) == fence
    # TERM at the fence, KILL after kill_grace, the workers' backstop a heartbeat later, checked a heartbeat
    # late at worst: all before the lease's end, with FENCE_SAFETY to spare
    assert fence + grace + 2 * beat + watchdog.FENCE_SAFETY == sent + lease


@pytest.mark.parametrize("failures, delay", [(0, 0), (1, 0.5), (2, 1), (3, 2), (10, 30)])
def test_respawn_backs_off_exponentially_to_a_cap(failures, delay):
    assert watchdog.respawn_delay(failures, maximum=30) == delay


def test_scale_down_prefers_an_idle_worker():
    assert watchdog.pick_to_retire({1: view(state=RUNNING), 2: view(state=IDLE), 3: view(state=RUNNING)}) == 2
    assert watchdog.pick_to_retire({1: view(state=RUNNING), 3: view(state=RUNNING)}) == 3


@pytest.mark.parametrize("state, hears", [(EMPTY, False), (BOOTING, True), (IDLE, True), (RUNNING, False),
                                         (STOPPING, False)])
def test_wake_ups_reach_idle_workers_and_booting_ones_whose_first_claim_may_have_been_early(state, hears):
    assert watchdog.hears_wake_ups(state) is hears


@pytest.mark.parametrize("sent, now, grace, due",
                         [(10.0, 14.9, 5.0, False), (10.0, 15.0, 5.0, True), (10.0, 10.0, 0.0, True)])
def test_sigkill_follows_term_after_kill_grace(sent, now, grace, due):
    assert watchdog.sigkill_due(sent, now, grace) is due


STOPPED = Exit(WorkerExit.STOPPED, "stopped")
BOOT_FAILED = Exit(WorkerExit.BOOT_FAILED, "boot")
DIED = Exit(None, "killed")


@pytest.mark.parametrize(
    "ended, state, killed, retiring, counts",
    [
        (BOOT_FAILED, IDLE, False, False, True),  # said so itself
        (DIED, BOOTING, False, False, True),  # died on its way up
        (DIED, BOOTING, True, False, False),  # we killed it while it booted (a fast stop)
        (STOPPED, BOOTING, False, True, False),  # told to stop before it had booted
        (DIED, IDLE, False, False, False),  # died after booting: a job's doing
    ],
)
def test_which_deaths_count_as_boot_failures(ended, state, killed, retiring, counts):
    assert watchdog.counts_as_boot_failure(ended, state, killed, retiring) is counts


@pytest.mark.parametrize(
    "ended, killed, event",
    [(STOPPED, False, "worker_exited"), (Exit(WorkerExit.RECYCLED, "r"), False, "worker_exited"),
     (STOPPED, True, "worker_died"), (DIED, False, "worker_died"),
     (Exit(WorkerExit.ORPHANED, "o"), False, "worker_died")],
)
def test_only_planned_exits_are_logged_as_exited(ended, killed, event):
    assert watchdog.end_event(ended, killed) == event


@pytest.mark.parametrize("waiting, uptime, delay", [(0, 5.0, 30.0), (2, 5.0, 1.0), (2, 500.0, 30.0)])
def test_orphans_are_looked_at_again_soon_while_a_dead_daemons_workers_finish(waiting, uptime, delay):
    assert watchdog.orphan_check_delay(waiting, uptime, interval=30.0) == delay


@pytest.mark.parametrize(
    "watching, settling, respawn_in, wait",
    [(False, False, None, 1.0), (True, False, None, 0.1), (True, True, None, 0.01), (False, False, 0.3, 0.3),
     (True, False, -2.0, 0.0)],
)
def test_the_loop_sleeps_long_only_with_nothing_to_watch(watching, settling, respawn_in, wait):
    assert watchdog.tick_wait(watching, settling, respawn_in) == wait


@pytest.mark.parametrize("status, code, planned", [(0, WorkerExit.STOPPED, True), (5 << 8, WorkerExit.RECYCLED, True),
                                                   (4 << 8, WorkerExit.ORPHANED, False), (9, None, False),
                                                   (42 << 8, None, False)])
def test_exit_statuses_are_named(status, code, planned):
    ended = describe(status)
    assert (ended.code, ended.planned) == (code, planned)
    assert "SIGKILL" in ended.text if status == 9 else "42" in ended.text if status == 42 << 8 else True
