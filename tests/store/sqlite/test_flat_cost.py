"""SQLite only: the daemon's hot operations cost the same with 200 or 20,000 jobs waiting.

Cost is counted in SQLite virtual-machine instructions (a progress handler), so the
test is exact and repeatable: a statement that walks every pending row instead of
an index shows up as a hundredfold jump, whatever the machine's speed.
"""

from __future__ import annotations

import time

from gigq_client.store import SqliteStore
from tests.store.helpers import completed, failed, new_job

GRANULARITY = 10


def _cost(store: SqliteStore, operation) -> int:
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    store._conn.set_progress_handler(count, GRANULARITY)
    try:
        operation()
    finally:
        store._conn.set_progress_handler(None, GRANULARITY)
    return steps[0] * GRANULARITY


def _add_backlog(store: SqliteStore, count: int) -> None:
    later = time.time() + 3600
    store.enqueue([new_job(f"b{i}", priority=i % 5, queue="q" if i % 2 else "r") for i in range(count)])
    store.enqueue([new_job(f"w{i}", run_at=later) for i in range(count // 10)])
    parent = new_job("parent")
    store.enqueue([parent, *[new_job(f"c{i}", dependencies=[parent.id]) for i in range(count // 10)]])


def _hot_path_costs(store: SqliteStore) -> dict[str, int]:
    store.enqueue([new_job("top", priority=100, max_attempts=2), new_job("next", priority=99)])
    costs = {}
    claimed = []
    costs["claim"] = _cost(store, lambda: claimed.extend(store.claim("w", None, 1)))
    costs["claim one queue"] = _cost(store, lambda: store.claim("w", ["q"], 1))
    costs["fail and retry"] = _cost(store, lambda: store.finish([failed(claimed[0])]))
    again = store.claim("w", None, 1)
    costs["complete"] = _cost(store, lambda: store.finish([completed(again[0])]))
    costs["next due"] = _cost(store, store.next_due)
    costs["running claims"] = _cost(store, store.running_claims)
    return costs


def test_claim_and_finish_cost_does_not_grow_with_the_backlog(tmp_path):
    small, large = SqliteStore(str(tmp_path / "small.db")), SqliteStore(str(tmp_path / "large.db"))
    _add_backlog(small, 200)
    _add_backlog(large, 20_000)
    small_costs, large_costs = _hot_path_costs(small), _hot_path_costs(large)
    for name, cost in small_costs.items():
        assert large_costs[name] <= 2 * cost + 200, f"{name}: {cost} -> {large_costs[name]} VM steps"
