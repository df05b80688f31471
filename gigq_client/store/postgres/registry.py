"""The registry of running daemons, their workers, and paused queues (PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from ..base import DaemonInfo, DaemonSummary

_DAEMON_COLUMNS = ("id, host, pid, pid_started, started_at, heartbeat_at, socket_path, doorbell_path, queues, extra, "
                   "machine, lease_until")
_NOW = "extract(epoch FROM clock_timestamp())::float8"  # the server's clock: the one every host agrees on
_UPSERT_DAEMON = f"""
    INSERT INTO daemons ({_DAEMON_COLUMNS}) VALUES (%s, %s, %s, %s, %s, {_NOW}, %s, %s, %s, %s, %s, {_NOW} + %s)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, pid_started = excluded.pid_started,
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, socket_path = excluded.socket_path,
        doorbell_path = excluded.doorbell_path, queues = excluded.queues, extra = excluded.extra,
        machine = excluded.machine, lease_until = excluded.lease_until"""
_RENEW = f"UPDATE daemons SET heartbeat_at = {_NOW}, lease_until = {_NOW} + %s WHERE id = %s"
_SUMMARIES = f"""
    SELECT {', '.join('d.' + c.strip() for c in _DAEMON_COLUMNS.split(','))},
        (SELECT count(*) FROM jobs AS j JOIN workers AS w ON w.id = j.worker_id
         WHERE j.status = 'running' AND w.daemon_id = d.id),
        {_NOW}
    FROM daemons AS d ORDER BY d.started_at"""
_UPSERT_WORKER = """
    INSERT INTO workers (id, daemon_id, host, pid, pid_started) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET daemon_id = excluded.daemon_id, host = excluded.host, pid = excluded.pid,
        pid_started = excluded.pid_started"""
_HOLDS_NO_JOB = "NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND worker_id = workers.id)"


class RegistryOperations:
    def register_daemon(self, info: DaemonInfo, lease: float = 60.0) -> None:
        self._execute(_UPSERT_DAEMON, (
            info.id, info.host, info.pid, info.pid_started, info.started_at,
            info.socket_path, info.doorbell_path, info.queues, json.dumps(info.extra), info.machine, lease))

    def renew_lease(self, daemon_id: str, lease: float) -> bool:
        return bool(self._execute(_RENEW, (lease, daemon_id)))

    def daemon_summaries(self) -> list[DaemonSummary]:
        return [DaemonSummary(_daemon(row[:12]), row[12], max(0.0, row[13] - row[5]), row[11] < row[13])
                for row in self._read(_SUMMARIES)]

    def deregister_daemon(self, daemon_id: str) -> None:
        def deregister(conn: Any) -> None:
            conn.execute("DELETE FROM daemons WHERE id = %s", (daemon_id,))
            conn.execute(f"DELETE FROM workers WHERE daemon_id = %s AND {_HOLDS_NO_JOB}", (daemon_id,))

        self._transact(deregister)

    def daemons(self) -> list[DaemonInfo]:
        return [_daemon(row) for row in self._read(f"SELECT {_DAEMON_COLUMNS} FROM daemons ORDER BY started_at")]

    def register_worker(self, worker_id: str, daemon_id: str, host: str, pid: int, pid_started: float) -> None:
        self._execute(_UPSERT_WORKER, (worker_id, daemon_id, host, pid, pid_started))

    def forget_worker(self, worker_id: str) -> None:
        self._execute(f"DELETE FROM workers WHERE id = %s AND {_HOLDS_NO_JOB}", (worker_id,))

    def pause_queue(self, queue: str) -> None:
        self._execute("INSERT INTO paused_queues (queue) VALUES (%s) ON CONFLICT DO NOTHING", (queue,))

    def resume_queue(self, queue: str) -> bool:
        return bool(self._execute("DELETE FROM paused_queues WHERE queue = %s", (queue,)))

    def paused_queues(self) -> list[str]:
        return [row[0] for row in self._read('SELECT queue FROM paused_queues ORDER BY queue COLLATE "C"')]


def _daemon(row: tuple) -> DaemonInfo:
    return DaemonInfo(*row[:9], extra=json.loads(row[9] or "{}"), machine=row[10] or "", lease_until=row[11] or 0.0)
