"""The registry of running daemons, their workers, and paused queues (SQLite)."""

from __future__ import annotations

import json
import time

from ..base import DaemonInfo, DaemonSummary

_DAEMON_COLUMNS = ("id, host, pid, pid_started, started_at, heartbeat_at, socket_path, doorbell_path, queues, extra, "
                   "machine, lease_until")
_SUMMARIES = f"""
    SELECT {', '.join('d.' + c.strip() for c in _DAEMON_COLUMNS.split(','))},
        (SELECT count(*) FROM jobs AS j JOIN workers AS w ON w.id = j.worker_id
         WHERE j.status = 'running' AND w.daemon_id = d.id)
    FROM daemons AS d ORDER BY d.started_at"""


class RegistryOperations:
    def register_daemon(self, info: DaemonInfo, lease: float = 60.0) -> None:
        now = time.time()  # one machine: the store's clock is this machine's
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO daemons ({_DAEMON_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (info.id, info.host, info.pid, info.pid_started, info.started_at, now,
                 info.socket_path, info.doorbell_path, info.queues, json.dumps(info.extra), info.machine, now + lease),
            )

    def renew_lease(self, daemon_id: str, lease: float) -> bool:
        now = time.time()
        with self._write() as conn:
            return bool(conn.execute("UPDATE daemons SET heartbeat_at = ?, lease_until = ? WHERE id = ?",
                                     (now, now + lease, daemon_id)).rowcount)

    def daemon_summaries(self) -> list[DaemonSummary]:
        now = time.time()
        return [DaemonSummary(_daemon(row[:12]), row[12], max(0.0, now - row[5]), (row[11] or 0) < now)
                for row in self._read(_SUMMARIES)]

    def deregister_daemon(self, daemon_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM daemons WHERE id = ?", (daemon_id,))
            conn.execute(
                "DELETE FROM workers WHERE daemon_id = ? AND id NOT IN "
                "(SELECT worker_id FROM jobs WHERE status = 'running' AND worker_id IS NOT NULL)",
                (daemon_id,),
            )

    def daemons(self) -> list[DaemonInfo]:
        return [_daemon(row) for row in self._read(f"SELECT {_DAEMON_COLUMNS} FROM daemons ORDER BY started_at")]

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


def _daemon(row: tuple) -> DaemonInfo:
    return DaemonInfo(*row[:9], extra=json.loads(row[9] or "{}"), machine=row[10] or "", lease_until=row[11] or 0.0)
