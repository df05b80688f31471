"""Small process and log helpers shared by the chaos run's parts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Optional

import psutil


def owner(worker_id: Optional[str]) -> tuple[str, int]:
    """(daemon id prefix, pid) of a worker id "daemon8.slot.pid"."""
    try:
        daemon, _slot, pid = (worker_id or "").split(".")
        return daemon, int(pid)
    except ValueError:
        return "", 0


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except psutil.Error:
        pass


def event_time(event: dict) -> float:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()

