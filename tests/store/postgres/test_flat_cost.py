"""PostgreSQL only: the daemon's hot operations read as many rows with 200 or 20,000 jobs waiting.

Cost is counted in rows the server read from tables and indexes (its own statistics,
flushed on demand for the store's connection), so the test is exact and repeatable:
a statement that walks every pending row instead of an index shows up as a hundredfold
jump, whatever the machine's speed. It runs twice: with statements sent as they come,
and with every statement prepared and run six times first, as in a long-running worker
(the driver prepares a statement it runs five times, and from the sixth run the server
may plan it generically, without its values). bench/claim_cost.py --db URL measures up
to 1M.
"""

from __future__ import annotations

import time

import pytest

from gigq_client.store import open_store
from gigq_client.store.postgres import PostgresStore
from tests.store.helpers import completed, failed, new_job

_ROWS_READ = """
    SELECT (SELECT coalesce(sum(idx_tup_read), 0) FROM pg_stat_user_indexes)
         + (SELECT coalesce(sum(seq_tup_read), 0) FROM pg_stat_user_tables)"""


def _rows_read(store: PostgresStore) -> int:
    conn = store._conn
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")  # the flush happens once that transaction ends
    return conn.execute(_ROWS_READ).fetchone()[0]


def _cost(store: PostgresStore, operation) -> int:
    before = _rows_read(store)
    operation()
    return _rows_read(store) - before


def _add_backlog(store: PostgresStore, count: int) -> None:
    later = time.time() + 3600
    store.enqueue([new_job(f"b{i}", priority=i % 5, queue="q" if i % 2 else "r") for i in range(count)])
    store.enqueue([new_job(f"w{i}", run_at=later) for i in range(count // 10)])
    parent = new_job("parent")
    store.enqueue([parent, *[new_job(f"c{i}", dependencies=[parent.id]) for i in range(count // 10)]])
    # What autovacuum does soon after a bulk load; measured before it, plans would depend on its timing.
    store._conn.execute("ANALYZE")


def _hot_path(store: PostgresStore, cost) -> dict[str, int]:
    """Each operation a worker's loop makes, once, through cost(operation) -> rows read."""
    store.enqueue([new_job("top", priority=100, max_attempts=2), new_job("next", priority=99)])
    costs, claimed = {}, []
    costs["claim"] = cost(lambda: claimed.extend(store.claim("w", None, 1)))
    costs["claim one queue"] = cost(lambda: store.claim("w", ["q"], 1))
    costs["claim two queues"] = cost(lambda: store.claim("w", ["q", "r"], 4))
    costs["fail and retry"] = cost(lambda: store.finish([failed(claimed[0])]))
    again = store.claim("w", None, 1)
    costs["complete"] = cost(lambda: store.finish([completed(again[0])]))
    costs["claim a fair share"] = cost(lambda: store.finish_and_claim([], "w", None, 8, share=2))
    store.pause_queue("r")
    costs["claim with a queue paused"] = cost(lambda: store.claim("w", None, 2))
    store.resume_queue("r")
    costs["next due"] = cost(store.next_due)
    costs["running claims"] = cost(store.running_claims)
    return costs


def _hot_path_costs(store: PostgresStore, statements: str) -> dict[str, int]:
    conn = store._conn
    conn.execute("SET stats_fetch_consistency = none")
    if statements == "prepared":
        conn.prepare_threshold = 0  # prepared from the first run...
        for _ in range(6):  # ...and run until the server may have switched to generic plans
            _hot_path(store, lambda operation: operation())
    return _hot_path(store, lambda operation: _cost(store, operation))


@pytest.mark.parametrize("statements", ["sent", "prepared"])
def test_claim_and_finish_cost_does_not_grow_with_the_backlog(postgres, statements):
    small, large = open_store(postgres.new()), open_store(postgres.new())
    _add_backlog(small, 200)
    _add_backlog(large, 20_000)
    small_costs, large_costs = _hot_path_costs(small, statements), _hot_path_costs(large, statements)
    assert small_costs["claim"] > 0, "nothing was counted: the statistics did not flush"
    for name, cost in small_costs.items():
        assert large_costs[name] <= 2 * cost + 20, f"{name}: {cost} -> {large_costs[name]} rows read"
    small.close()
    large.close()
