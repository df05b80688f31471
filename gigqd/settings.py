"""The daemon's settings, each declared once: name, type, default, help, and its check."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Optional

Check = Callable[[Any], Optional[str]]  # returns what is wrong, or None
MAX_WORKERS = 256  # a pool larger than this is a mistake; the shared board is sized from it


def _positive(value: Any) -> Optional[str]:
    return None if value > 0 else "must be greater than 0"


def _not_negative(value: Any) -> Optional[str]:
    return None if value >= 0 else "must be 0 or more"


def _between(low: float, high: float) -> Check:
    return lambda value: None if low <= value <= high else f"must be between {low:g} and {high:g}"


def _one_of(*choices: str) -> Check:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _octal_mode(value: Any) -> Optional[str]:
    return None if 0 <= value <= 0o777 else "must be a file mode between 0 and 0o777"


def setting(default: Any, help: str, check: Optional[Check] = None, default_text: str = "", **extra: Any) -> Any:
    metadata = {"help": help, "check": check, "default_text": default_text, **extra}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class Settings:
    """Everything gigqd can be told; defaults make `gigqd --db jobs.db` enough."""

    db: str = setting("gigq.db", "Path of the SQLite job database (created if missing), or a postgresql:// URL.")
    workers: int = setting(lambda: os.cpu_count() or 2, "Worker processes in the pool.", _between(1, MAX_WORKERS),
                           default_text="number of CPUs")
    queues: list = setting(list, "Queues to serve; empty serves every queue.")
    imports: list = setting(list, "Modules each worker imports when it starts (a failure is a boot error).")
    allowed_modules: list = setting(
        lambda: ["*"], "Module prefixes whose functions workers may run. \"*\" allows any module but the standard "
        "library (a few pure ones aside) and gigqd's own install, and is refused while others can write the database "
        "(see docs/reliability.md).")
    log_format: str = setting(
        "auto", "auto (JSON unless on a terminal), json or console.", _one_of("auto", "json", "console"))
    log_level: str = setting("info", "debug, info, warning or error.", _one_of("debug", "info", "warning", "error"))
    log_file: str = setting("", "Append logs to this file instead of standard error.")
    wakeups: str = setting(
        "listen", "listen: a submit wakes an idle worker at once (a datagram on SQLite, LISTEN/NOTIFY on PostgreSQL). "
        "poll: idle workers only look every poll_interval (for PostgreSQL behind a transaction-mode pooler, "
        "which breaks LISTEN).", _one_of("listen", "poll"))
    poll_interval: float = setting(
        1.0, "Seconds an idle worker waits before looking for jobs without being woken.", _between(0.01, 3600))
    graceful_timeout: float = setting(
        30.0, "Seconds running jobs get to finish on a graceful stop or reload.", _not_negative)
    kill_grace: float = setting(5.0, "Seconds between SIGTERM and SIGKILL when a job is stopped.", _between(0, 3600))
    heartbeat_interval: float = setting(1.0, "Seconds between a worker's heartbeats.", _between(0.05, 60))
    heartbeat_timeout: float = setting(
        30.0, "Seconds of heartbeat silence after which a worker is hung and replaced.", _between(0.2, 86400))
    lease: float = setting(
        20.0, "Seconds a daemon's lease lasts (renewed every quarter of it). On a database shared by several "
        "machines, a daemon that cannot renew it stops its jobs before it runs out, and another requeues them once "
        "it has.", _between(1, 86400))
    orphan_check_interval: float = setting(5.0, "Seconds between looks for running jobs whose owner died or whose "
                                           "daemon's lease ran out.", _between(0.1, 86400))
    max_jobs_per_worker: int = setting(0, "Replace a worker after this many jobs (0: never).", _not_negative)
    max_memory_per_worker: int = setting(
        0, "Replace a worker, between jobs, once its RSS passes this many MiB (0: never).", _not_negative)
    max_result_bytes: int = setting(
        10_000_000, "Largest JSON result a job may return; a bigger one fails the job.", _positive)
    record_outcomes: str = setting(
        "per_job", "per_job: each job's outcome is committed before the worker starts its next job. batched: "
        "outcomes of very short jobs are committed together (at most claim_batch jobs or 0.1 s of work), faster, but "
        "a worker killed with kill -9 runs that much finished work again.", _one_of("per_job", "batched"))
    claim_batch: int = setting(
        32, "Most jobs a worker claims in one transaction when jobs are short and many. Jobs claimed "
        "behind one that runs longer than 0.25 s are given back, for an idle worker to take.", _between(1, 64))
    restart_backoff_max: float = setting(
        30.0, "Longest wait before re-forking a worker that keeps dying at start.", _between(0.1, 3600))
    busy_timeout: float = setting(
        10.0, "Seconds to wait for SQLite's write lock before an operation fails.", _between(0.01, 3600))
    synchronous: str = setting(
        "NORMAL", "SQLite synchronous level: NORMAL survives a kill -9 of any process; FULL also survives power loss.",
        _one_of("NORMAL", "FULL", "EXTRA"))
    socket_path: str = setting(
        "", "Control socket path; empty means the database path plus \".sock\" (for a URL: a name made from it in "
        "the temporary folder).")
    socket_mode: int = setting(0o600, "File mode of the control socket.", _octal_mode, default_text="0o600")
    socket_group: str = setting("", "Group given access to the control socket and database (mode 0660).")
    pid_file: str = setting("", "Write the supervisor's pid here (gigqctl start sets it).")



SETTINGS = {item.name: item for item in fields(Settings)}


def default_text(name: str) -> str:
    item = SETTINGS[name]
    if item.metadata["default_text"]:
        return item.metadata["default_text"]
    value = item.default_factory() if callable(item.default_factory) else item.default  # type: ignore[misc]
    return json.dumps(value) if isinstance(value, str) else str(value).replace("'", '"')


def markdown_table() -> str:
    """The settings table of docs/configuration.md, made from the declarations above."""
    rows = ["| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for name, item in SETTINGS.items():
        rows.append(f"| `{name}` | `GIGQD_{name.upper()}` | `{default_text(name)}` | {item.metadata['help']} |")
    return "\n".join(rows)


def update_docs(path: str) -> None:
    """Rewrite the table between the settings table markers of `path` (docs/configuration.md)."""
    with open(path) as handle:
        text = handle.read()
    start, end = "<!-- settings table start -->\n", "<!-- settings table end -->"
    before, rest = text.split(start, 1)
    with open(path, "w") as handle:
        handle.write(before + start + markdown_table() + "\n" + end + rest.split(end, 1)[1])


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--update"]:  # python -m gigqd.settings --update docs/configuration.md
        update_docs(sys.argv[2])
    else:
        print(markdown_table())
