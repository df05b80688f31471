"""Structured logs: structlog set-up, and the catalogue of every event name gigqd emits."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

# Every event is named in the past tense for what happened. tests/unit/test_logs.py
# checks that the code emits no name missing from this list.
EVENTS = frozenset({
    # supervisor lifecycle
    "daemon_started", "config_warned", "daemon_stopping_requested", "daemon_stopped", "config_reloaded",
    "config_reload_failed", "pool_scaled", "signal_received", "doorbell_disconnected", "doorbell_reconnected",
    "supervisor_loop_failed",
    "parent_ended",
    # workers
    "worker_spawned", "worker_booted", "worker_boot_failed", "worker_exited", "worker_died", "worker_hung",
    "worker_recycled", "worker_stop_requested", "worker_respawn_delayed", "worker_killed", "worker_orphaned",
    "orphan_process_killed", "worker_leftovers_abandoned", "worker_fenced",
    "lease_renewal_failed", "lease_lapsed", "lease_regained",
    # jobs
    "job_claimed", "job_started", "job_completed", "job_failed", "job_timed_out", "job_killed",
    "job_requeued", "job_released", "job_release_refused", "job_cancelled", "job_outcome_refused",
    "orphans_requeued",
    "store_write_failed", "worker_outcomes_abandoned",
    # control socket
    "control_listened", "control_request_failed", "control_command_handled",
})


_current: dict[str, Any] = {}


def configure(log_format: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Route structlog to `stream` (stderr), as JSON off a terminal and readable on one."""
    stream = stream or sys.stderr
    _current.update(log_format=log_format, level=level, stream=stream)
    use_json = log_format == "json" or (log_format == "auto" and not _is_terminal(stream))
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=_is_terminal(stream))
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        # One write() per line: print() writes the newline in a second call, and where the
        # stream writes through (PYTHONUNBUFFERED=1) another process's line lands in between.
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def use_private_stream() -> None:
    """Log through our own copy of the log descriptor (in workers), so a job that
    closes or redirects stdout and stderr cannot silence or break the worker."""
    stream = _current.get("stream", sys.stderr)
    try:
        private = os.fdopen(os.dup(stream.fileno()), "w", buffering=1)
    except (OSError, ValueError, AttributeError):
        return
    configure(_current.get("log_format", "auto"), _current.get("level", "info"), private)


def get_logger(**context: Any) -> Any:
    return structlog.get_logger("gigqd").bind(**context)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
