"""How gigqctl prints: GigQ's tables and status lines, and the daemon's status."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from gigq_client import JobStatus


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A boxed text table, as GigQ's CLI printed them."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) + 2 for i in range(len(headers))]
    rule = "+" + "+".join("-" * w for w in widths) + "+"
    lines = [rule]
    for index, row in enumerate(cells):
        lines.append("|" + "|".join(f" {value.ljust(w - 2)} " for value, w in zip(row, widths)) + "|")
        if index == 0:
            lines.append(rule)
    lines.append(rule)
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def when(timestamp: str | None) -> str:
    """An ISO timestamp shown in local time, to the second."""
    if not timestamp:
        return "-"
    try:
        return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(timestamp)


def job_status(status: dict[str, Any], params: bool, result: bool, executions: bool) -> str:
    lines = [
        f"Job: {status['name']} ({status['id']})",
        f"Status: {status['status']}",
        f"Function: {status['function']}",
        f"Queue: {status['queue']}",
        f"Created: {when(status['created_at'])}",
        f"Updated: {when(status['updated_at'])}",
        f"Started: {when(status.get('started_at'))}",
        f"Completed: {when(status.get('completed_at'))}",
        f"Attempts: {status['attempts']} / {status['max_attempts']}",
    ]
    if status.get("worker_id"):
        lines.append(f"Worker: {status['worker_id']}")
    if status.get("error"):
        lines.append(f"Error: {status['error']}")
    if params and status.get("params"):
        lines += ["", "Parameters:"] + [f"  {k}: {v}" for k, v in status["params"].items()]
    if result and status.get("result") is not None:
        value = status["result"]
        shown = [f"  {k}: {v}" for k, v in value.items()] if isinstance(value, dict) else [f"  {value}"]
        lines += ["", "Result:"] + shown
    if executions and status.get("executions"):
        rows = [(e["attempt"], e["status"], when(e["started_at"]), when(e["completed_at"]), e["worker_id"], e["error"])
                for e in status["executions"]]
        lines += ["", "Executions:", table(rows, ["Attempt", "Status", "Started", "Completed", "Worker", "Error"])]
    return "\n".join(lines)


def daemon_status(report: dict[str, Any]) -> str:
    daemon = report["daemon"]
    paused = ", ".join(daemon["paused"]) or "none"
    lines = [
        f"gigqd pid {daemon['pid']} on {daemon['host']}, up {_duration(daemon['uptime'])}"
        + (f", stopping ({daemon['stopping']})" if daemon["stopping"] else ""),
        f"database: {daemon['db']}",
        f"workers: {daemon['workers']}   queues served: {', '.join(daemon['queues']) or 'all'}   paused: {paused}",
        f"jobs done per minute: {daemon['jobs_per_minute']:g}",
        "",
        _queue_table(report),
        "",
        table([(w["slot"], w["pid"], w["state"], _job(w), _seconds(w["runtime"]), _mb(w["rss_mb"]), w["jobs_done"])
               for w in report["workers"]], ["Worker", "PID", "State", "Job", "Runtime", "RSS", "Done"]),
    ]
    return "\n".join(lines)


def cluster_status(report: dict[str, Any], cluster: list[dict[str, Any]]) -> str:
    """This machine's daemon (if one runs here), then every daemon the database knows."""
    parts = [daemon_status(report)] if "daemon" in report else [_queue_table(report)]
    if cluster:
        rows = [(d["host"], d["pid"], d["daemon_id"][:8], d["workers"] if d["workers"] is not None else "?",
                 d["jobs_running"], f"{d['heartbeat_age']:.1f}s ago", "EXPIRED" if d["lease_expired"] else "held",
                 d["version"] or "?") for d in cluster]
        parts += ["", "Daemons on every host:",
                  table(rows, ["Host", "PID", "Daemon", "Workers", "Running", "Heartbeat", "Lease", "Version"])]
    return "\n".join(parts)


def _queue_table(report: dict[str, Any]) -> str:
    statuses = [status.value for status in JobStatus]
    rows = [[queue, *(counts[s] for s in statuses)] for queue, counts in sorted(report["queues"].items())]
    rows.append(["(all)", *(report["totals"][s] for s in statuses)])
    return table(rows, ["Queue", *statuses])


def _job(worker: dict[str, Any]) -> str:
    if not worker["job_id"]:
        return "-"
    return f"{worker['job_name']} ({worker['job_id'][:8]})"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} MB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"
