"""The registry of running daemons, their workers, and paused queues (PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

from ..base import DaemonInfo

_DAEMON_COLUMNS = "id, host, pid, pid_started, started_at, heartbeat_at, socket_path, doorbell_path, queues, extra"
_UPSERT_DAEMON = f"""
    INSERT INTO daemons ({_DAEMON_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, pid_started = excluded.pid_started,
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, socket_path = excluded.socket_path,
        doorbell_path = excluded.doorbell_path, queues = excluded.queues, extra = excluded.extra"""
_UPSERT_WORKER = """
    INSERT INTO workers (id, daemon_id, host, pid, pid_started) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET daemon_id = excluded.daemon_id, host = excluded.host, pid = excluded.pid,
        pid_started = excluded.pid_started"""
_HOLDS_NO_JOB = "NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND worker_id = workers.id)"


class RegistryOperations:
    def register_daemon(self, info: DaemonInfo) -> None:
        self._execute(_UPSERT_DAEMON, (
            info.id, info.host, info.pid, info.pid_started, info.started_at, info.heartbeat_at,
            info.socket_path, info.doorbell_path, info.queues, json.dumps(info.extra)))

    def heartbeat(self, daemon_id: str, now: float) -> None:
        self._execute("UPDATE daemons SET heartbeat_at = %s WHERE id = %s", (now, daemon_id))

    def deregister_daemon(self, daemon_id: str) -> None:
        def deregister(conn: Any) -> None:
            conn.execute("DELETE FROM daemons WHERE id = %s", (daemon_id,))
            conn.execute(f"DELETE FROM workers WHERE daemon_id = %s AND {_HOLDS_NO_JOB}", (daemon_id,))

        self._transact(deregister)

    def daemons(self) -> list[DaemonInfo]:
        found = self._read(f"SELECT {_DAEMON_COLUMNS} FROM daemons ORDER BY started_at")
        return [DaemonInfo(*row[:9], extra=json.loads(row[9] or "{}")) for row in found]

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
