"""One small handler per control command; each returns plain JSON-able data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .server import ControlError

if TYPE_CHECKING:
    from ..supervisor.loop import Supervisor


def handlers(supervisor: "Supervisor") -> dict[str, Callable[[dict[str, Any]], Any]]:
    return {
        "ping": lambda args: {"pid": supervisor.pid, "daemon_id": supervisor.daemon_id},
        "status": lambda args: supervisor.status(),
        "stop": lambda args: _stop(supervisor, args),
        "scale": lambda args: {"workers": supervisor.scale(_workers(args))},
        "reload": lambda args: _reload(supervisor),
        "cancel": lambda args: {"stopping": supervisor.cancel_job(_job_id(args))},
        "wake": lambda args: supervisor.pool.wake_idle(),
    }


def _stop(supervisor: "Supervisor", args: dict[str, Any]) -> dict[str, Any]:
    supervisor.stop(fast=bool(args.get("now")))
    return {"pid": supervisor.pid, "mode": supervisor.stopping}


def _reload(supervisor: "Supervisor") -> dict[str, Any]:
    if supervisor.stopping:
        raise ControlError("the daemon is stopping")
    error = supervisor.reload()
    if error:
        raise ControlError(error)
    return {"workers": supervisor.pool.desired}


def _workers(args: dict[str, Any]) -> int:
    workers = args.get("workers")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise ControlError(f"workers must be an integer from 1 to 256, got {workers!r}")
    return workers


def _job_id(args: dict[str, Any]) -> str:
    job_id = args.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ControlError("job_id must be a non-empty string")
    return job_id
