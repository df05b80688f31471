"""One small handler per control command; each returns plain JSON-able data."""

from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

from ..settings import MAX_WORKERS
from .server import ControlError


class Daemon(Protocol):
    """What the control socket may ask of the supervisor, and nothing more."""

    def identity(self) -> dict[str, Any]: ...
    def status(self) -> dict[str, Any]: ...
    def stop(self, fast: bool = False) -> str: ...
    def scale(self, workers: int) -> int: ...
    def reload(self) -> Optional[str]: ...
    def workers_wanted(self) -> int: ...
    def cancel_job(self, job_id: str) -> bool: ...
    def wake_workers(self) -> None: ...


def handlers(daemon: Daemon) -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {
        "ping": lambda args: daemon.identity(),
        "status": lambda args: daemon.status(),
        "stop": lambda args: {"pid": daemon.identity()["pid"], "mode": daemon.stop(fast=bool(args.get("now")))},
        "scale": lambda args: {"workers": daemon.scale(_workers(args))},
        "reload": lambda args: _reload(daemon),
        "cancel": lambda args: {"stopping": daemon.cancel_job(_job_id(args))},
        "wake": lambda args: daemon.wake_workers(),
    }


def _reload(daemon: Daemon) -> dict[str, Any]:
    error = daemon.reload()
    if error:
        raise ControlError(error)
    return {"workers": daemon.workers_wanted()}


def _workers(args: dict[str, Any]) -> int:
    workers = args.get("workers")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ControlError(f"workers must be an integer from 1 to {MAX_WORKERS}, got {workers!r}")
    return workers


def _job_id(args: dict[str, Any]) -> str:
    job_id = args.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ControlError("job_id must be a non-empty string")
    return job_id
