"""The registry of running daemons, their workers, and paused queues (SQLite)."""

from __future__ import annotations

import json

from ..base import DaemonInfo

_DAEMON_COLUMNS = "id, host, pid, pid_started, started_at, heartbeat_at, socket_path, doorbell_path, queues, extra"


class RegistryOperations:
    def register_daemon(self, info: DaemonInfo) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO daemons ({_DAEMON_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (info.id, info.host, info.pid, info.pid_started, info.started_at, info.heartbeat_at,
                 info.socket_path, info.doorbell_path, info.queues, json.dumps(info.extra)),
            )

    def heartbeat(self, daemon_id: str, now: float) -> None:
        with self._write() as conn:
            conn.execute("UPDATE daemons SET heartbeat_at = ? WHERE id = ?", (now, daemon_id))

    def deregister_daemon(self, daemon_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM daemons WHERE id = ?", (daemon_id,))
            conn.execute(
                "DELETE FROM workers WHERE daemon_id = ? AND id NOT IN "
                "(SELECT worker_id FROM jobs WHERE status = 'running' AND worker_id IS NOT NULL)",
                (daemon_id,),
            )

    def daemons(self) -> list[DaemonInfo]:
        rows = self._read(f"SELECT {_DAEMON_COLUMNS} FROM daemons ORDER BY started_at")
        return [DaemonInfo(*row[:9], extra=json.loads(row[9] or "{}")) for row in rows]

    def register_worker(self, worker_id: str, daemon_id: str, host: str, pid: int, pid_started: float) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO workers (id, daemon_id, host, pid, pid_started) VALUES (?, ?, ?, ?, ?)",
                (worker_id, daemon_id, host, pid, pid_started),
            )

    def forget_worker(self, worker_id: str) -> None:
        """Drop a dead worker's registration once none of its attempts is still running."""
        with self._write() as conn:
            conn.execute(
                "DELETE FROM workers WHERE id = ? AND NOT EXISTS "
                "(SELECT 1 FROM jobs WHERE status = 'running' AND worker_id = ?)",
                (worker_id, worker_id),
            )

    def pause_queue(self, queue: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO paused_queues (queue) VALUES (?)", (queue,))

    def resume_queue(self, queue: str) -> bool:
        with self._write() as conn:
            return bool(conn.execute("DELETE FROM paused_queues WHERE queue = ?", (queue,)).rowcount)

    def paused_queues(self) -> list[str]:
        return [row[0] for row in self._read("SELECT queue FROM paused_queues ORDER BY queue")]
